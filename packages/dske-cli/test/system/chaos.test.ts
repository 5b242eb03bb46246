/**
 * System: crash and chaos. The default topology (5 hubs, 5 clients, k = 3) as real processes;
 * 8 concurrent SAE pairs do get-key-pair (enc_keys at the master's client, dec_keys at the
 * slave's client) for about 12 s (DSKE_CHAOS_LOAD_MS for a longer soak) while random hubs (at most n − k = 2 at once) and one client are
 * killed with SIGKILL and restarted (dske-cli start), repeatedly. Afterwards:
 *  - no mismatched key was ever delivered; every key a master received was retrieved identically
 *    by its slave, or failed with a clear error (HTTP error status + {message}); dec_keys that
 *    failed (e.g. the slave's client or a share's hub was down) are retried once everything is
 *    up again (keys and shares are durable) and must then succeed identically or fail clearly;
 *  - the PSRD audit logs of all nodes show no byte range consumed twice in any pool;
 *  - every node's process is alive (no node died except those killed, and those were restarted).
 */
import { keyPair, runningTopology, type EtsiKey } from "./harness";
import { checkAuditLogs, deadNodes, isClearError, killNode, pidOf, sleep } from "./chaos-util";

// The load lasts LOAD_MS and at least the MIN_ROUNDS kill rounds the checks need (each about 3-5
// s: a node down 1-2 s while 8 pairs keep calling, dozens of requests; the rounds, not the
// seconds, are what the checks count). 12 s by default: with 30 s the file took 67 CPU-seconds,
// the most of any test file. DSKE_CHAOS_LOAD_MS=300000 for a longer soak with more rounds.
const LOAD_MS = Number(process.env.DSKE_CHAOS_LOAD_MS ?? 12_000);
jest.setTimeout(LOAD_MS + 150_000);

// Least stock demand 1 key/s: the stock checks below hold even where callers are 5× slower.
// processes: separate: the test kills single hubs and a client with -9.
const t = runningTopology(18600, { share_timeout_secs: 600, key_stock_min_rate: 1, processes: "separate" });

/** 8 (master, slave) pairs over the 5 SAEs of the default topology (every client takes part). */
const PAIRS: [string, string][] = [
  ["sam", "sunny"],
  ["serena", "sofia"],
  ["sofia", "susan"],
  ["sunny", "sam"],
  ["susan", "serena"],
  ["sam", "sofia"],
  ["serena", "sunny"],
  ["sofia", "sam"],
];
const HUBS = t.topology.hubs.map((h) => h.name);
/** The client killed in client rounds: curtis hosts sunny and susan (5 of the 8 pairs). */
const VICTIM_CLIENT = "curtis";

interface Issued {
  master: string;
  slave: string;
  keys: EtsiKey[];
}

const fig = {
  attempted: 0,
  delivered: 0,
  encFailed: 0,
  decFailedThenRetried: 0,
  retriedDelivered: 0,
  retriedFailedClearly: 0,
  abortedByKill: 0,
  hubKills: 0,
  clientKills: 0,
  restarts: 0,
  auditRecords: 0,
};
const errorStatuses = new Map<string, number>();
const problems: string[] = [];
const down = new Set<string>();
/** Incremented when a node is killed: a transport error during a request to it is explained. */
const killGen = new Map<string, number>();
const gen = (n: string) => killGen.get(n) ?? 0;
const pending: Issued[] = [];

/** A few distinct error messages per kind, for the output. */
const samples = new Map<string, Set<string>>();

function noteError(where: string, status: number, data: unknown): void {
  const key = `${where} ${status}`;
  errorStatuses.set(key, (errorStatuses.get(key) ?? 0) + 1);
  const message = (data as { message?: unknown } | null)?.message;
  const text = typeof message === "string" ? message : message === undefined || message === null ? "" : JSON.stringify(message);
  const msg = text.replace(/[0-9a-f-]{36}/g, "<id>").slice(0, 160);
  const set = samples.get(key) ?? new Set<string>();
  if (set.size < 3) set.add(msg);
  samples.set(key, set);
  if (!isClearError(status, data)) problems.push(`${where}: HTTP ${status} without a clear {message}: ${JSON.stringify(data)}`);
}

const sameKeys = (a: EtsiKey[], b: EtsiKey[]) => JSON.stringify(a) === JSON.stringify(b);

async function decKeys(kme: string, master: string, slave: string, keys: EtsiKey[]) {
  return t.http.post(
    t.etsiUrl(t.node(kme), master, "dec_keys"),
    { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) },
    { headers: { Authorization: slave }, timeout: 30_000 },
  );
}

/** One SAE pair: get-key-pair in a loop while `running()`. */
async function pairLoop(master: string, slave: string, running: () => boolean): Promise<void> {
  const mk = t.kmeOf(master).name;
  const sk = t.kmeOf(slave).name;
  while (running()) {
    if (down.has(mk) || down.has(sk)) {
      await sleep(100);
      continue;
    }
    fig.attempted++;
    const g0 = gen(mk);
    let enc;
    try {
      enc = await t.http.post(
        t.etsiUrl(t.node(mk), slave, "enc_keys"),
        { number: 1, size: 256 },
        {
          headers: { Authorization: master },
          timeout: 30_000,
        },
      );
    } catch (err) {
      if (gen(mk) !== g0 || down.has(mk)) fig.abortedByKill++;
      else problems.push(`enc_keys ${master}->${slave}: transport error without a kill: ${String(err)}`);
      continue;
    }
    if (enc.status !== 200) {
      fig.encFailed++;
      noteError("enc_keys", enc.status, enc.data);
      await sleep(100); // an encryptor backs off a little after an error
      continue;
    }
    const issued: Issued = { master, slave, keys: (enc.data as { keys: EtsiKey[] }).keys };
    const g1 = gen(sk);
    let dec;
    try {
      dec = await decKeys(sk, master, slave, issued.keys);
    } catch (err) {
      if (gen(sk) !== g1 || down.has(sk)) {
        fig.abortedByKill++;
        pending.push(issued);
      } else {
        problems.push(`dec_keys ${master}->${slave}: transport error without a kill: ${String(err)}`);
      }
      continue;
    }
    if (dec.status === 200) {
      const got = (dec.data as { keys: EtsiKey[] }).keys;
      if (sameKeys(got, issued.keys)) fig.delivered++;
      else problems.push(`MISMATCH ${master}->${slave}: ${issued.keys[0]?.key_ID}`);
    } else {
      noteError("dec_keys", dec.status, dec.data);
      pending.push(issued);
    }
  }
}

async function restart(names: string[]): Promise<void> {
  const args = names.flatMap((n) => [t.node(n).kind === "hub" ? "--hub" : "--client", n]);
  const r = await t.cli(...args, "start");
  if (r.code !== 0) throw new Error(`restart of ${names.join(", ")} failed: ${r.stderr}`);
  fig.restarts += names.length;
  for (const n of names) down.delete(n);
}

async function kill(names: string[]): Promise<void> {
  for (const n of names) {
    down.add(n);
    killGen.set(n, gen(n) + 1);
  }
  await Promise.all(names.map((n) => killNode(t, n)));
}

/**
 * The kill rounds the checks need (hubs in rounds 1 and 2, at least 3; the victim client in round
 * 3): run even when a slow machine takes longer than the load window for them.
 */
const MIN_ROUNDS = 3;

/** Kill rounds until `until` (and at least MIN_ROUNDS): 1 or 2 random hubs (2 in the first round; every third round: the victim client). */
async function chaosLoop(until: number): Promise<string[]> {
  const log: string[] = [];
  let round = 0;
  while (round < MIN_ROUNDS || Date.now() < until - 4_000) {
    await sleep(1_000 + Math.random() * 1_000);
    round++;
    let victims: string[];
    if (round % 3 === 0) {
      victims = [VICTIM_CLIENT];
      fig.clientKills++;
    } else {
      const shuffled = [...HUBS].sort(() => Math.random() - 0.5);
      // never more than n - k = 2 at once; the first round always takes two
      victims = shuffled.slice(0, round === 1 ? 2 : 1 + Math.floor(Math.random() * 2));
      fig.hubKills += victims.length;
    }
    log.push(`round ${round}: kill -9 ${victims.join(", ")}`);
    await kill(victims);
    await sleep(1_000 + Math.random() * 1_000);
    await restart(victims);
  }
  return log;
}

describe("crash and chaos (5 hubs, k = 3, 8 concurrent SAE pairs)", () => {
  it("under kill -9 of hubs and a client: no mismatched key, no PSRD reuse, no unexpected death", async () => {
    // Warm-up: every pair works before the chaos.
    for (const [m, s] of PAIRS.slice(0, 2)) {
      const { enc, dec } = await keyPair(t, m, s);
      expect(dec[s]).toEqual(enc);
    }
    const pidsBefore = new Map(t.topology.nodes.map((n) => [n.name, pidOf(t, n.name)]));
    const t0 = Date.now();
    const until = t0 + LOAD_MS;
    // The pairs keep the load on while kill rounds go on, also past `until` on a slow machine.
    let chaosDone = false;
    const chaos = chaosLoop(until).finally(() => (chaosDone = true));
    const running = () => Date.now() < until || !chaosDone;
    const [killLog] = await Promise.all([chaos, ...PAIRS.map(([m, s]) => pairLoop(m, s, running))]);
    const loadSecs = (Date.now() - t0) / 1000;
    expect(down.size).toBe(0);

    // Retry every dec_keys that failed (slave client or a hub killed): keys are durable.
    fig.decFailedThenRetried = pending.length;
    for (const p of pending) {
      const sk = t.kmeOf(p.slave).name;
      let res = await decKeys(sk, p.master, p.slave, p.keys);
      // A hub that just restarted may still be re-registering the client: retry a 503 briefly.
      for (let i = 0; i < 10 && res.status === 503; i++) {
        await sleep(500);
        res = await decKeys(sk, p.master, p.slave, p.keys);
      }
      if (res.status === 200) {
        const got = (res.data as { keys: EtsiKey[] }).keys;
        if (sameKeys(got, p.keys)) fig.retriedDelivered++;
        else problems.push(`MISMATCH after retry ${p.master}->${p.slave}: ${p.keys[0]?.key_ID}`);
      } else {
        fig.retriedFailedClearly++;
        noteError("dec_keys retry", res.status, res.data);
      }
    }

    // Keys still flow after the chaos.
    const { enc, dec } = await keyPair(t, "sam", "sunny");
    expect(dec.sunny).toEqual(enc);

    // No node died except those killed (and those were restarted: new pid, alive).
    expect(deadNodes(t)).toEqual([]);
    const killed = new Set(killLog.flatMap((l) => l.replace(/^.*kill -9 /, "").split(", ")));
    for (const n of t.topology.nodes) {
      if (!killed.has(n.name)) expect(`${n.name} pid ${pidOf(t, n.name)}`).toBe(`${n.name} pid ${pidsBefore.get(n.name)}`);
    }
    for (const n of t.topology.nodes) await expect(t.status(n.name)).resolves.toMatchObject({ name: n.name });

    // PSRD audit logs: no byte range consumed twice in any pool of any node.
    const audit = await checkAuditLogs(t);
    fig.auditRecords = audit.records;

    // The key stock (on by default) carried the load: keys handed out from it, prefetched batches.
    const stock = { fromStock: 0, onDemand: 0, prefetched: 0 };
    for (const c of t.topology.clients) {
      const k = ((await t.status(c.name)) as { keys?: { issued_from_stock?: number; issued_on_demand?: number; prefetched?: number } })
        .keys;
      stock.fromStock += k?.issued_from_stock ?? 0;
      stock.onDemand += k?.issued_on_demand ?? 0;
      stock.prefetched += k?.prefetched ?? 0;
    }

    const lines = [
      `chaos: ${loadSecs.toFixed(1)} s of load, ${PAIRS.length} concurrent SAE pairs, 256-bit keys`,
      `  key stock (counters since each client's last start): ${stock.fromStock} keys from the stock, ${stock.onDemand} on demand, ${stock.prefetched} prefetched by responders`,
      `  key pairs attempted: ${fig.attempted}`,
      `  delivered identically (first try): ${fig.delivered}`,
      `  enc_keys failed clearly: ${fig.encFailed}`,
      `  dec_keys failed, retried after restart: ${fig.decFailedThenRetried} -> delivered identically ${fig.retriedDelivered}, failed clearly ${fig.retriedFailedClearly}`,
      `  requests cut by a kill (transport error while the node was killed): ${fig.abortedByKill}`,
      `  kills: ${fig.hubKills} hub kills, ${fig.clientKills} client kills (${VICTIM_CLIENT}); restarts: ${fig.restarts}`,
      `  error answers by status: ${JSON.stringify(Object.fromEntries(errorStatuses))}`,
      `  PSRD audit records checked: ${audit.records} on ${audit.nodes} nodes; ranges consumed twice: ${audit.overlaps.length}`,
      `  mismatched keys: ${problems.filter((p) => p.startsWith("MISMATCH")).length}`,
      ...[...samples].flatMap(([k, msgs]) => [...msgs].map((m) => `  e.g. ${k}: ${m}`)),
      ...killLog.map((l) => `  ${l}`),
    ];
    console.log(lines.join("\n"));

    expect(problems).toEqual([]);
    expect(audit.overlaps).toEqual([]);
    expect(audit.records).toBeGreaterThan(0);
    expect(fig.hubKills).toBeGreaterThanOrEqual(3);
    expect(fig.clientKills).toBeGreaterThanOrEqual(1);
    expect(fig.delivered).toBeGreaterThan(0);
    expect(stock.fromStock).toBeGreaterThan(0);
    expect(stock.prefetched).toBeGreaterThan(0);
    // Every issued key is accounted for: delivered first time, or retried (and then delivered or failed clearly).
    expect(fig.retriedDelivered + fig.retriedFailedClearly).toBe(fig.decFailedThenRetried);
  });
});
