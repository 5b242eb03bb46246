/**
 * LocalDistributor against a fake transport that models the client's needs: a need is reported
 * while a (client, hub) deficit is positive, and an install of the next seq reduces it. Tests wait
 * on conditions (checked after every turn of the event loop), never on time; backoff and re-poll
 * waits go through an injected sleep that records the delay and returns at once.
 */
import { LocalDistributor, type DistributorLogFields, type DistributorTransport, type Need } from "../src/index.js";

import { must } from "./helpers.js";

type Deficit = { client: number; hub: number };

class Gate {
  private release!: () => void;
  readonly opened = new Promise<void>((r) => (this.release = r));
  open(): void {
    this.release();
  }
}

class FakeNet implements DistributorTransport {
  /** client → hub → bytes still needed per pool. */
  readonly deficits = new Map<string, Map<string, Deficit>>();
  /** `${hub}/${client}` → last seq issued. */
  private readonly issued = new Map<string, number>();
  /** `${hub}/${client}` → seqs installed, in order. */
  readonly installed = new Map<string, number[]>();
  /** file → what it holds. */
  private readonly files = new Map<string, { hub: string; client: string; seq: number; c: number; h: number }>();
  readonly calls: string[] = [];
  /** Failures to inject: how many of the next calls of each kind throw. */
  readonly fail = { needs: 0, issue: 0, deliver: 0, install: 0 };
  /** Gates holding issue calls for a hub until opened. */
  readonly issueGates = new Map<string, Gate>();
  /** Issue calls in flight per pair, and the most seen at once. */
  private readonly inFlight = new Map<string, number>();
  maxInFlightPerPair = 0;
  maxInFlightTotal = 0;
  /** Size of each bundle: at most this many bytes per pool per issue. */
  chunk = 1000;
  /** needs() answers malformed content this many times. */
  garbage: unknown[] = [];
  private waiters: (() => void)[] = [];

  need(client: string, hub: string, c: number, h: number): void {
    let m = this.deficits.get(client);
    if (!m) this.deficits.set(client, (m = new Map<string, Deficit>()));
    const d = m.get(hub) ?? { client: 0, hub: 0 };
    m.set(hub, { client: d.client + c, hub: d.hub + h });
    this.changed();
  }

  private changed(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private currentNeeds(client: string): Need[] {
    return [...(this.deficits.get(client) ?? new Map<string, Deficit>()).entries()]
      .filter(([, d]) => d.client > 0 || d.hub > 0)
      .map(([hub, d]) => ({
        hub_name: hub,
        client_owned_bytes: Math.min(d.client, this.chunk),
        hub_owned_bytes: Math.min(d.hub, this.chunk),
      }));
  }

  async needs(client: string, _waitMs: number, signal: AbortSignal): Promise<Need[]> {
    this.calls.push(`needs ${client}`);
    await new Promise((r) => setImmediate(r));
    if (this.fail.needs > 0) {
      this.fail.needs--;
      throw new Error("connection refused");
    }
    const g = this.garbage.shift();
    if (g !== undefined) return g as Need[];
    for (;;) {
      if (signal.aborted) throw new Error("aborted");
      const n = this.currentNeeds(client);
      if (n.length > 0) return n;
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal.addEventListener("abort", onAbort, { once: true });
        this.waiters.push(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
  }

  async issue(hub: string, client: string, c: number, h: number): Promise<{ file: string; seq: number }> {
    const pair = `${hub}/${client}`;
    this.calls.push(`issue ${pair} ${c}+${h}`);
    const now = (this.inFlight.get(pair) ?? 0) + 1;
    this.inFlight.set(pair, now);
    this.maxInFlightPerPair = Math.max(this.maxInFlightPerPair, now);
    this.maxInFlightTotal = Math.max(
      this.maxInFlightTotal,
      [...this.inFlight.values()].reduce((a, b) => a + b, 0),
    );
    try {
      await (this.issueGates.get(hub)?.opened ?? Promise.resolve());
      await new Promise((r) => setImmediate(r));
      if (this.fail.issue > 0) {
        this.fail.issue--;
        throw new Error(`hub ${hub} answered 503`);
      }
      const seq = (this.issued.get(pair) ?? 0) + 1;
      this.issued.set(pair, seq);
      const file = `outbox/${hub}/${client}-${seq}.dskepsrd`;
      this.files.set(file, { hub, client, seq, c, h });
      return { file, seq };
    } finally {
      this.inFlight.set(pair, must(this.inFlight.get(pair), `issue calls in flight for ${pair}`) - 1);
    }
  }

  async deliver(client: string, file: string): Promise<string> {
    this.calls.push(`deliver ${client} ${file}`);
    await new Promise((r) => setImmediate(r));
    if (this.fail.deliver > 0) {
      this.fail.deliver--;
      throw new Error("medium not mounted");
    }
    const f = this.files.get(file);
    if (!f || f.client !== client) throw new Error(`no such file ${file}`);
    const moved = file.replace(/^outbox\//, `inbox/${client}/`);
    this.files.delete(file);
    this.files.set(moved, f);
    return moved;
  }

  async install(client: string, file: string): Promise<void> {
    this.calls.push(`install ${client} ${file}`);
    await new Promise((r) => setImmediate(r));
    if (this.fail.install > 0) {
      this.fail.install--;
      throw new Error("client busy");
    }
    const f = this.files.get(file);
    if (!f || f.client !== client) throw new Error(`no such file ${file}`);
    const pair = `${f.hub}/${client}`;
    const done = this.installed.get(pair) ?? [];
    if (f.seq !== (done.at(-1) ?? 0) + 1) throw new Error(`bundle seq ${f.seq} is out of order`);
    done.push(f.seq);
    this.installed.set(pair, done);
    this.files.delete(file);
    const d = must(this.deficits.get(client)?.get(f.hub), `the deficit of ${client} with ${f.hub}`);
    d.client = Math.max(0, d.client - f.c);
    d.hub = Math.max(0, d.hub - f.h);
    this.changed();
  }

  issues(pair: string): number {
    return this.calls.filter((c) => c.startsWith(`issue ${pair} `)).length;
  }
}

/** Resolve when `cond` holds, checking after every turn of the event loop. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

interface LogLine {
  level: string;
  message: string;
  fields: DistributorLogFields | undefined;
}

function setup(options: { clients?: string[]; initialMs?: number; maxMs?: number } = {}) {
  const net = new FakeNet();
  const lines: LogLine[] = [];
  const delays: number[] = [];
  const REPOLL = 7;
  const log = {
    info: (message: string, fields?: DistributorLogFields) => lines.push({ level: "info", message, fields }),
    warn: (message: string, fields?: DistributorLogFields) => lines.push({ level: "warn", message, fields }),
    error: (message: string, fields?: DistributorLogFields) => lines.push({ level: "error", message, fields }),
  };
  const d = new LocalDistributor({
    clients: options.clients ?? ["curtis"],
    transport: net,
    log,
    pollWaitMs: 30_000,
    repollMs: REPOLL,
    backoff: { initialMs: options.initialMs ?? 100, maxMs: options.maxMs ?? 400 },
    random: () => 0.5,
    sleep: (ms) => {
      if (ms !== REPOLL) delays.push(ms);
      return new Promise((r) => setImmediate(r));
    },
  });
  return { net, d, lines, delays };
}

let running: LocalDistributor[] = [];
afterEach(async () => {
  await Promise.all(running.map((d) => d.stop()));
  running = [];
});
function start(d: LocalDistributor): void {
  running.push(d);
  d.start();
}

test("replenishes every client from every hub until the needs are met, in seq order per hub", async () => {
  const { net, d } = setup({ clients: ["curtis", "carol"] });
  net.need("curtis", "hank", 2500, 1000);
  net.need("curtis", "helen", 1000, 0);
  net.need("carol", "hank", 0, 1500);
  start(d);
  await until(() => d.counters.bundles === 3 + 1 + 2, "six bundles installed");
  expect(net.installed.get("hank/curtis")).toEqual([1, 2, 3]);
  expect(net.installed.get("helen/curtis")).toEqual([1]);
  expect(net.installed.get("hank/carol")).toEqual([1, 2]);
  expect(d.counters).toEqual({ bundles: 6, bytes: 2500 + 1000 + 1000 + 1500, failures: 0 });
  expect(d.pending).toEqual([]);
  // Each bundle went issue → deliver (outbox → inbox) → install of the delivered path.
  expect(net.calls).toContain("deliver curtis outbox/hank/curtis-2.dskepsrd");
  expect(net.calls).toContain("install curtis inbox/curtis/hank/curtis-2.dskepsrd");
  expect(net.maxInFlightPerPair).toBe(1);
});

test("different hubs are served in parallel; one hub's bundles strictly one after the other", async () => {
  const { net, d } = setup();
  const gate = new Gate();
  net.issueGates.set("hank", gate);
  net.need("curtis", "hank", 1000, 0);
  net.need("curtis", "helen", 3000, 0);
  start(d);
  // hank's issue hangs; helen's three bundles are installed meanwhile.
  await until(() => (net.installed.get("helen/curtis") ?? []).length === 3, "helen's bundles installed while hank's issue hangs");
  expect(net.installed.get("hank/curtis")).toBeUndefined();
  expect(net.issues("hank/curtis")).toBe(1); // reported again and again, but never issued twice at once
  expect(d.pending).toEqual([]);
  gate.open();
  await until(() => (net.installed.get("hank/curtis") ?? []).length === 1, "hank's bundle installed");
  expect(net.maxInFlightPerPair).toBe(1);
  expect(net.maxInFlightTotal).toBe(2);
});

test("a failed delivery or install retries the same bundle (never issues a new one) with growing, bounded backoff", async () => {
  const { net, d, delays, lines } = setup({ initialMs: 100, maxMs: 400 });
  net.fail.deliver = 2;
  net.fail.install = 3;
  net.need("curtis", "hank", 1000, 1000);
  start(d);
  await until(() => d.counters.bundles === 1, "bundle installed after retries");
  expect(net.issues("hank/curtis")).toBe(1);
  expect(net.installed.get("hank/curtis")).toEqual([1]);
  expect(d.counters).toEqual({ bundles: 1, bytes: 2000, failures: 5 });
  // min(400, 100·2^(n−1)) · (0.5 + 0.5·0.5): 75, 150, 300, 300, 300.
  expect(delays).toEqual([75, 150, 300, 300, 300]);
  const warns = lines.filter((l) => l.level === "warn");
  expect(warns[0]).toEqual({
    level: "warn",
    message: "bundle step failed; retrying",
    fields: { client: "curtis", hub: "hank", stage: "deliver", seq: 1, attempt: 1, err: "medium not mounted", retry_ms: 75 },
  });
  expect(warns[2]).toEqual({
    level: "warn",
    message: "bundle step failed; retrying",
    fields: { client: "curtis", hub: "hank", stage: "install", seq: 1, attempt: 3, err: "client busy", retry_ms: 300 },
  });
  expect(lines.at(-1)).toEqual({
    level: "info",
    message: "PSRD bundle installed",
    fields: { client: "curtis", hub: "hank", seq: 1, bytes: 2000 },
  });
});

test("a failed issue is asked again on the next poll, with the amounts then needed", async () => {
  const { net, d, delays } = setup();
  net.fail.issue = 1;
  net.need("curtis", "hank", 500, 0);
  start(d);
  await until(() => d.counters.bundles === 1, "bundle installed");
  expect(net.calls.filter((c) => c.startsWith("issue"))).toEqual(["issue hank/curtis 500+0", "issue hank/curtis 500+0"]);
  expect(net.installed.get("hank/curtis")).toEqual([1]);
  expect(d.counters.failures).toBe(1);
  expect(delays).toEqual([75]);
});

test("the failure count per pair resets after a success", async () => {
  const { net, d, delays } = setup();
  net.chunk = 100;
  net.fail.issue = 2;
  net.need("curtis", "hank", 200, 0);
  start(d);
  await until(() => d.counters.bundles === 1, "first bundle installed");
  net.fail.deliver = 1;
  await until(() => d.counters.bundles === 2, "second bundle installed");
  expect(delays).toEqual([75, 150, 75]);
});

test("a failed needs poll is retried with backoff; malformed needs are ignored", async () => {
  const { net, d, lines, delays } = setup();
  net.fail.needs = 1;
  net.garbage = [
    [
      { hub_name: "../etc", client_owned_bytes: 1, hub_owned_bytes: 0 },
      { hub_name: "hank", client_owned_bytes: 0, hub_owned_bytes: 0 },
      { hub_name: "helen", client_owned_bytes: -5, hub_owned_bytes: 1 },
    ],
    { not: "a list" },
  ];
  net.need("curtis", "hank", 100, 0);
  start(d);
  await until(() => d.counters.bundles === 1, "bundle installed");
  expect(net.calls.filter((c) => c.startsWith("issue"))).toEqual(["issue hank/curtis 100+0"]);
  expect(d.counters.failures).toBe(2); // the refused poll and the non-list answer
  expect(delays).toEqual([75]);
  const warns = lines.filter((l) => l.level === "warn").map((l) => [l.message, l.fields]);
  expect(warns).toEqual([
    ["reading the PSRD needs of client failed; retrying", { client: "curtis", attempt: 1, err: "connection refused", retry_ms: 75 }],
    ["malformed PSRD need; ignored", { client: "curtis" }],
    ["malformed PSRD need; ignored", { client: "curtis" }],
    ["PSRD needs not a list; ignored", { client: "curtis" }],
  ]);
});

test("stop aborts the long poll and resolves; start again resumes", async () => {
  const { net, d } = setup();
  start(d);
  await until(() => net.calls.includes("needs curtis"), "long poll started");
  expect(d.running).toBe(true);
  await d.stop();
  expect(d.running).toBe(false);
  const polls = net.calls.length;
  net.need("curtis", "hank", 100, 0);
  await new Promise((r) => setImmediate(r));
  expect(net.calls.length).toBe(polls); // nothing runs after stop
  d.start();
  await until(() => d.counters.bundles === 1, "bundle installed after restart");
});

test("stop while an issue is in flight waits for it and still delivers and installs that bundle, then issues nothing more", async () => {
  const { net, d } = setup();
  const gate = new Gate();
  net.issueGates.set("hank", gate);
  net.need("curtis", "hank", 5000, 0);
  start(d);
  await until(() => net.issues("hank/curtis") === 1, "issue in flight");
  const stopped = d.stop();
  let done = false;
  void stopped.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  expect(done).toBe(false);
  gate.open();
  await stopped;
  expect(net.installed.get("hank/curtis")).toEqual([1]);
  expect(net.issues("hank/curtis")).toBe(1);
  expect(d.counters.bundles).toBe(1);
});

test("stop with a bundle still pending (install keeps failing) reports it and leaves it pending", async () => {
  const { net, d, lines } = setup();
  net.fail.install = 1_000_000;
  net.need("curtis", "hank", 100, 0);
  start(d);
  await until(() => d.counters.failures >= 3, "install failed a few times");
  expect(d.pending).toEqual([{ client: "curtis", hub: "hank", seq: 1, file: "inbox/curtis/hank/curtis-1.dskepsrd", delivered: true }]);
  await d.stop();
  expect(net.issues("hank/curtis")).toBe(1);
  expect(lines).toContainEqual({
    level: "warn",
    message: "bundle not installed yet: deliver and install it before the next one",
    fields: { client: "curtis", hub: "hank", seq: 1, file: "inbox/curtis/hank/curtis-1.dskepsrd", delivered: true },
  });
});

test("backoff is bounded by maxMs whatever the failure count, and jittered within [½, 1]", () => {
  const d = new LocalDistributor({
    clients: ["c"],
    transport: new FakeNet(),
    backoff: { initialMs: 10, maxMs: 1000 },
    random: () => 0.999999,
  });
  expect(d.backoffMs(1)).toBe(10);
  expect(d.backoffMs(4)).toBe(80);
  expect(d.backoffMs(1000)).toBe(1000);
  const low = new LocalDistributor({ clients: ["c"], transport: new FakeNet(), backoff: { initialMs: 10, maxMs: 1000 }, random: () => 0 });
  expect(low.backoffMs(1000)).toBe(500);
});

test("options are checked", () => {
  const t = new FakeNet();
  expect(() => new LocalDistributor({ clients: [], transport: t })).toThrow(RangeError);
  expect(() => new LocalDistributor({ clients: ["a/b"], transport: t })).toThrow(/client names are 1\.\.64 characters/);
  expect(() => new LocalDistributor({ clients: ["a", "a"], transport: t })).toThrow(/must not repeat/);
  expect(() => new LocalDistributor({ clients: ["a"], transport: t, pollWaitMs: 30_001 })).toThrow(/pollWaitMs/);
});
