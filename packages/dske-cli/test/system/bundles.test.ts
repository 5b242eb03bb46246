/**
 * System: PSRD delivered out of band in bundles (issue 12), on real node processes started by
 * `dske-cli start` (default topology, plain HTTP, ports 19250-19259).
 *
 * - `start` provisions every client by bundle (the hubs' local distributors): every client is
 *   registered with every hub, the logs show bundle 1 issued and installed for each pair, no
 *   network delivery (GET psrd → 401 for an outsider, 403 even for the client itself), keys flow.
 * - By hand: `dske-cli psrd issue hank curtis --out FILE`, `dske-cli psrd install curtis FILE`:
 *   installed, the client's pools grow by the bundle's blocks, the file is destroyed.
 * - Refused with a clear message and nothing installed (the client's pool blocks and sizes and chain seq equal
 *   before and after; the genuine bundle still installs afterwards): tampered (SHA-256 left as is:
 *   `corrupt`; SHA-256 fixed: the chained tag catches it), truncated, for another client, for
 *   another hub (header rewritten, SHA-256 fixed: the tag; a hub the client does not have), out of
 *   order, replayed.
 * - kill -9 of the client while it installs a bundle of several blocks from its inbox, at several
 *   points (as soon as it runs, when it listens, at the first block bytes on disk, after one and two
 *   blocks): after each kill the chain advanced only with every block present, else the bundle is
 *   still in the inbox; after a final start it is installed exactly once and keys flow.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { isNodeProcessAlive } from "../../src/pid-file";
import { chainSeq, clientAccounting, clientStatus, hubStatus, settled } from "./accounting";
import { bundleParts, fixSha, poolBlocks, poolBytes, withHeader } from "./bundle-bytes";
import { pidOf, sleep } from "./chaos-util";
import { logLines } from "./log-lines";
import { runningTopology, SYSTEM_TIMEOUT, type CliResult } from "./harness";
import { saeKeyPair } from "./sae-http";
import { defined } from "../defined";

jest.setTimeout(SYSTEM_TIMEOUT);

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
const CLIENTS = ["carol", "celia", "cindy", "connie", "curtis"];
const MiB = 1024 * 1024;

// The key stock is off: no background batches between the "before" and "after" readings.
const t = runningTopology(19250, { key_stock_ahead_ms: 0 });

const expectKeysFlow = async (master: string, slave: string) => {
  const { enc, dec } = await saeKeyPair(t, master, slave);
  expect(dec).toEqual(enc);
};
/** Whether something accepts TCP connections on 127.0.0.1:port. */
const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
const fileIn = (name: string) => path.join(t.dir, name);
const log = (node: string) => readFileSync(path.join(t.stateDir, "logs", `${node}.log`), "utf8");

/** `dske-cli psrd issue HUB CLIENT ... --out FILE`; returns the file's bytes (a copy kept by the test). */
async function issue(hub: string, client: string, file: string, clientOwned = 4096, hubOwned = 4096): Promise<Buffer> {
  const r = await t.cli(
    "psrd",
    "issue",
    hub,
    client,
    "--client-owned-bytes",
    String(clientOwned),
    "--hub-owned-bytes",
    String(hubOwned),
    "--out",
    file,
  );
  if (r.code !== 0) throw new Error(`psrd issue ${hub} ${client} failed: ${r.stderr}`);
  expect(r.out[0]).toMatch(
    new RegExp(
      `^Issued PSRD bundle \\d+ of hub ${hub} for client ${client} \\(${clientOwned} \\+ ${hubOwned} bytes\\): ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
    ),
  );
  return readFileSync(file);
}

async function install(client: string, file: string): Promise<CliResult> {
  return t.cli("psrd", "install", client, file);
}

/**
 * What the client has installed, per hub (chain seq, registration, and each pool's blocks and
 * size), settled. Not the bytes used: background work (signing-pad reserve, acknowledgements)
 * spends PSRD whenever it likes, which says nothing about what a bundle installed.
 */
const accounting = (client: string, quietMs?: number) =>
  settled(
    async () =>
      Object.fromEntries(
        Object.entries(await clientAccounting(t, client)).map(([hub, a]) => [
          hub,
          {
            seq: a.seq,
            registered: a.registered,
            pools: {
              client_owned: { blocks: a.pools.client_owned.blocks, size: a.pools.client_owned.size },
              hub_owned: { blocks: a.pools.hub_owned.blocks, size: a.pools.hub_owned.size },
            },
          },
        ]),
      ),
    { quietMs },
  );

/** The CLI's messages for the refused bundles (printed at the end). */
const refusals: string[] = [];
afterAll(() => {
  if (refusals.length > 0) console.log(`refused bundles (${refusals.length}):\n  ${refusals.join("\n  ")}`);
});

/**
 * Install `bytes` (written to a file) at `client`: refused with `message`, nothing installed (the
 * message says so unless `saysNothingInstalled` is false).
 */
async function expectRefused(client: string, name: string, bytes: Uint8Array, message: RegExp, saysNothingInstalled = true): Promise<void> {
  const file = fileIn(name);
  writeFileSync(file, bytes, { mode: 0o600 });
  const before = await accounting(client);
  const r = await install(client, file);
  expect(r.code).not.toBe(0);
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  expect(r.stderr).toMatch(new RegExp(`client ${client} refused the bundle ${quoted}: bundle ${quoted} `));
  if (saysNothingInstalled) expect(r.stderr).toMatch(/ refused, nothing installed: /);
  refusals.push(r.stderr.trim());
  expect(r.stderr).toMatch(message);
  expect(await accounting(client, 300)).toEqual(before);
}

test("start provisioned every client by bundle: registered with every hub, bundle 1 issued and installed per pair, no network delivery; keys flow", async () => {
  for (const c of CLIENTS) {
    const s = await clientStatus(t, c);
    expect([c, s.peer_hubs.map((p) => [p.hub_name, p.registered])]).toEqual([c, HUBS.map((h) => [h, true])]);
    for (const h of HUBS) expect([c, h, chainSeq(t, s, h) >= 1]).toEqual([c, h, true]);
    for (const h of HUBS) {
      expect(logLines(log(c))).toContainEqual(
        expect.objectContaining({
          msg: "PSRD bundle installed",
          hub: h,
          seq: 1,
          blocks: 2,
          client_owned_bytes: 65536,
          hub_owned_bytes: 65536,
        }),
      );
    }
  }
  for (const h of HUBS) {
    const s = await hubStatus(t, h);
    expect(s.psrd_delivery).toBe("bundle");
    expect(s.peer_clients.map((c) => c.client_name).sort()).toEqual(CLIENTS);
    for (const c of s.peer_clients) expect([h, c.client_name, defined(c.psrd).bundles_issued >= 1]).toEqual([h, c.client_name, true]);
    for (const c of CLIENTS) {
      expect(logLines(log(h))).toContainEqual(
        expect.objectContaining({ msg: "PSRD bundle issued", client: c, seq: 1, client_owned_bytes: 65536, hub_owned_bytes: 65536 }),
      );
    }
  }

  // No network PSRD delivery: an outsider gets 401; even the client itself (its enrollment secret) 403.
  const before = await settled(async () => (await hubStatus(t, "hank")).peer_clients.find((c) => c.client_name === "curtis"));
  const url = `http://127.0.0.1:${t.node("hank").port}/hub/hank/dske/oob/v1/psrd?client_name=curtis&pool_owner=client&size=1000`;
  const outsider = await t.http.get(url);
  expect(outsider.status).toBe(401);
  const state = JSON.parse(readFileSync(path.join(t.stateDir, "nodes", "curtis", "client-state.json"), "utf8")) as {
    chains: Record<string, { enrollment_secret?: string }>;
  };
  const secret = state.chains.hank.enrollment_secret;
  expect(secret).toMatch(/^[0-9a-f]{64}$/);
  const itself = await t.http.get(url, { headers: { Authorization: `Bearer ${secret}` } });
  expect(itself.status).toBe(403);
  expect((itself.data as { message: string }).message).toMatch(
    /delivers PSRD only in bundles carried out of band \(psrd_delivery: bundle\)/,
  );
  expect(await settled(async () => (await hubStatus(t, "hank")).peer_clients.find((c) => c.client_name === "curtis"))).toEqual(before);

  for (const [m, s] of [
    ["sam", "serena"],
    ["serena", "sofia"],
    ["sofia", "sunny"],
    ["sunny", "sam"],
    ["susan", "serena"],
  ])
    await expectKeysFlow(m, s);
});

test("by hand: psrd issue hank curtis --out FILE, psrd install curtis FILE → installed, pools grow by the bundle, the file destroyed", async () => {
  const before = await accounting("curtis");
  const hankBefore = defined(
    (await hubStatus(t, "hank")).peer_clients.find((c) => c.client_name === "curtis"),
    "curtis at hank",
  );
  const file = fileIn("by-hand.psrd");
  const bytes = await issue("hank", "curtis", file, 20_000, 30_000);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readdirSync(path.join(t.stateDir, "nodes", "hank", "outbox"))).toEqual([]); // moved out, not copied
  const { header } = bundleParts(bytes);
  expect(header).toMatchObject({ v: 1, hub_name: "hank", client_name: "curtis", seq: before.hank.seq + 1 });
  expect(header.enrollment_secret).toBeUndefined(); // only in bundle 1
  const hankIssued = defined(
    (await hubStatus(t, "hank")).peer_clients.find((c) => c.client_name === "curtis"),
    "curtis at hank",
  );
  expect(defined(hankIssued.psrd).bundles_issued).toBe(defined(hankBefore.psrd).bundles_issued + 1);
  expect(defined(hankIssued.psrd).staged.hub).toBe(30_000); // hub-owned blocks wait for curtis's confirmation

  const r = await install("curtis", file);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.out).toEqual([`Installed PSRD bundle ${header.seq} of hub hank at client curtis (2 blocks, 20000 + 30000 bytes)`]);
  expect(existsSync(file)).toBe(false);

  const after = await accounting("curtis");
  expect(after.hank.seq).toBe(before.hank.seq + 1);
  expect(after.hank.pools.client_owned.size).toBe(before.hank.pools.client_owned.size + poolBytes(header, "client"));
  expect(after.hank.pools.hub_owned.size).toBe(before.hank.pools.hub_owned.size + poolBytes(header, "hub"));
  expect(after.hank.pools.client_owned.blocks).toBe(before.hank.pools.client_owned.blocks + 1);
  expect(after.hank.pools.hub_owned.blocks).toBe(before.hank.pools.hub_owned.blocks + 1);
  for (const h of HUBS.filter((x) => x !== "hank")) expect(after[h]).toEqual(before[h]);
  // curtis confirmed the hub-owned block in band: hank uses it now.
  const hankAfter = defined(
    await settled(async () => (await hubStatus(t, "hank")).peer_clients.find((c) => c.client_name === "curtis"), {
      ready: (c) => c?.psrd?.staged.hub === 0,
    }),
    "curtis at hank",
  );
  expect(hankAfter.pools.hub_owned.size).toBe(hankBefore.pools.hub_owned.size + poolBytes(header, "hub"));
  await expectKeysFlow("sam", "sunny");
  await expectKeysFlow("sunny", "sam");
});

test("a tampered bundle is refused, nothing installed: a flipped payload byte (corrupt), and with the SHA-256 fixed (the chained tag); the genuine one then installs", async () => {
  const file = fileIn("genuine-t.psrd");
  const bytes = await issue("hank", "curtis", file);
  const { payloadAt, payloadLength } = bundleParts(bytes);
  const flipped = Buffer.from(bytes);
  flipped[payloadAt + Math.floor(payloadLength / 3)] ^= 0x01;
  await expectRefused("curtis", "tampered.psrd", flipped, /its SHA-256 does not match/);
  await expectRefused("curtis", "tampered-sha-fixed.psrd", fixSha(Buffer.from(flipped)), /fails its integrity tag/);
  // The next chain key (end of the payload) changed, SHA-256 fixed: the tag covers it too.
  const key = Buffer.from(bytes);
  key[payloadAt + payloadLength - 1] ^= 0x80;
  await expectRefused("curtis", "tampered-chain-key.psrd", fixSha(key), /fails its integrity tag/);
  // A header field changed (a block's pool owner), SHA-256 fixed.
  const parts = bundleParts(bytes);
  const swapped = withHeader(bytes, {
    ...parts.header,
    blocks: parts.header.blocks.map((b) => ({ ...b, pool_owner: b.pool_owner === "client" ? "hub" : "client" })),
  });
  await expectRefused("curtis", "tampered-header.psrd", swapped, /fails its integrity tag/);
  const ok = await install("curtis", file);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
});

test("a truncated bundle is refused, nothing installed (cut in the tag, the payload, the header); the genuine one then installs", async () => {
  const file = fileIn("genuine-c.psrd");
  const bytes = await issue("hank", "curtis", file);
  const { payloadAt } = bundleParts(bytes);
  await expectRefused("curtis", "cut-1.psrd", bytes.subarray(0, bytes.length - 1), /truncated/);
  await expectRefused("curtis", "cut-payload.psrd", bytes.subarray(0, payloadAt + 100), /truncated/);
  await expectRefused("curtis", "cut-header.psrd", bytes.subarray(0, payloadAt - 10), /truncated|corrupt/);
  await expectRefused("curtis", "cut-magic.psrd", bytes.subarray(0, 5), /truncated|corrupt/);
  const ok = await install("curtis", file);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
});

test("a bundle for another client (issued for carol, installed at curtis) is refused, nothing installed; carol installs it", async () => {
  const file = fileIn("for-carol.psrd");
  const bytes = await issue("hank", "carol", file);
  await expectRefused("curtis", "for-carol-at-curtis.psrd", bytes, /is for client carol, not curtis/);
  // Relabelled for curtis (client name and the seq curtis expects from hank; SHA-256 fixed): the tag, keyed by carol's chain with hank, catches it.
  const next = (await accounting("curtis")).hank.seq + 1;
  const renamed = withHeader(bytes, { ...bundleParts(bytes).header, client_name: "curtis", seq: next });
  await expectRefused("curtis", "renamed-for-curtis.psrd", renamed, new RegExp(`bundle seq ${next} from hub hank fails its integrity tag`));
  const ok = await install("carol", file);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
});

test("a bundle for another hub (header's hub rewritten, SHA-256 fixed; or a hub the client does not have) is refused, nothing installed", async () => {
  // Two hubs at the same chain seq with curtis: a bundle of one, relabelled as the other's, has the seq that one expects; only the tag can tell.
  const acc = await accounting("curtis");
  const others = HUBS.filter((h) => h !== "hank");
  const pair = others.flatMap((a) => others.filter((b) => b !== a && acc[a].seq === acc[b].seq).map((b) => [a, b] as const))[0];
  expect(pair).toBeDefined();
  const [from, as] = pair;
  const file = fileIn(`from-${from}.psrd`);
  const bytes = await issue(from, "curtis", file);
  const header = bundleParts(bytes).header;
  expect(header.seq).toBe(acc[as].seq + 1);
  await expectRefused(
    "curtis",
    `from-${from}-as-${as}.psrd`,
    withHeader(bytes, { ...header, hub_name: as }),
    new RegExp(`bundle seq ${header.seq} from hub ${as} fails its integrity tag`),
  );
  await expectRefused(
    "curtis",
    `from-${from}-as-hector.psrd`,
    withHeader(bytes, { ...header, hub_name: "hector" }),
    /from hub hector, which is not one of the hubs of client curtis/,
    false,
  );
  const ok = await install("curtis", file);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
});

test("bundles out of order: seq n+1 before n is refused, nothing installed; then n and n+1 install", async () => {
  const first = fileIn("order-1.psrd");
  const second = fileIn("order-2.psrd");
  const a = await issue("hank", "curtis", first);
  const b = await issue("hank", "curtis", second);
  expect(bundleParts(b).header.seq).toBe(bundleParts(a).header.seq + 1);
  await expectRefused("curtis", "order-2-early.psrd", b, /out of order: install seq \d+ first/);
  for (const f of [first, second]) {
    const r = await install("curtis", f);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  }
});

test("a replayed bundle (the same bytes again) is refused, nothing installed, and the copy is destroyed", async () => {
  const file = fileIn("replay.psrd");
  const bytes = await issue("hank", "curtis", file);
  const ok = await install("curtis", file);
  expect(ok.code).toBe(0);
  const copy = fileIn("replay-copy.psrd");
  await expectRefused("curtis", "replay-copy.psrd", bytes, /already installed \(next expected seq \d+\): it is a replay/);
  expect(existsSync(copy)).toBe(false);
  await expectKeysFlow("sam", "sunny");
});

test("kill -9 of the client mid-install leaves all or nothing; after a restart the bundle is installed exactly once and keys flow", async () => {
  const before = await accounting("curtis");
  const stop = await t.cli("--client", "curtis", "stop");
  expect(stop.code).toBe(0);
  // Several blocks per pool (a block holds at most 4 MiB).
  const file = fileIn("big.psrd");
  const bytes = await issue("hank", "curtis", file, 12 * MiB, 12 * MiB);
  const { header } = bundleParts(bytes);
  expect(header.blocks.length).toBeGreaterThanOrEqual(6);
  expect(header.seq).toBe(before.hank.seq + 1);
  const put = await install("curtis", file);
  expect(put.code).toBe(0);
  const inbox = path.join(t.stateDir, "nodes", "curtis", "inbox");
  expect(put.out[0]).toMatch(/Client curtis is not running: bundle put into its inbox/);
  const inboxFile = path.join(inbox, "big.psrd");
  expect(existsSync(inboxFile)).toBe(true);

  const poolDir = (owner: "client" | "hub") => path.join(t.stateDir, "nodes", "curtis", "psrd", "pools", `hub-hank-${owner}-owned`);
  const dataBytes = () => (["client", "hub"] as const).reduce((n, o) => n + statSync(path.join(poolDir(o), "data.bin")).size, 0);
  const blocksOnDisk = () =>
    new Set(
      (["client", "hub"] as const).flatMap((o) =>
        (JSON.parse(readFileSync(path.join(poolDir(o), "meta.json"), "utf8")) as { blocks: { uuid: string }[] }).blocks.map((b) => b.uuid),
      ),
    );
  const seqOnDisk = () =>
    (
      JSON.parse(readFileSync(path.join(t.stateDir, "nodes", "curtis", "client-state.json"), "utf8")) as {
        chains: Record<string, { seq: number }>;
      }
    ).chains.hank.seq;
  const blockSize = Math.max(...header.blocks.map((b) => b.size));
  const logFile = path.join(t.stateDir, "logs", "curtis.log");

  /** Where to kill (relative to this start: the process, its log from `logFrom`, data written since `data0`). */
  const points: [string, (logFrom: number, data0: number) => boolean | Promise<boolean>][] = [
    ["as soon as it runs", () => true],
    ["when its port accepts connections (it installs its inbox next)", () => portOpen(t.node("curtis").port)],
    ["at the first block bytes on disk", (_l, data0) => dataBytes() > data0],
    ["after one more block on disk", (_l, data0) => dataBytes() >= data0 + blockSize],
    ["after two more blocks on disk", (_l, data0) => dataBytes() >= data0 + 2 * blockSize],
    ["at the first block bytes on disk (again)", (_l, data0) => dataBytes() > data0],
    [
      "when it logs that it listens (after its inbox)",
      (logFrom) => readFileSync(logFile, "utf8").slice(logFrom).includes('"msg":"listening"'),
    ],
  ];
  const outcomes: string[] = [];
  for (const [what, when] of points) {
    const logFrom = statSync(logFile).size;
    const data0 = dataBytes();
    const start = { finished: false }; // set in a callback, so a property (TS would narrow a local to false)
    const starting = t.cli("--client", "curtis", "start").finally(() => (start.finished = true));
    let killed: number | undefined;
    while (killed === undefined && !start.finished) {
      const pid = pidOf(t, "curtis");
      if (pid !== undefined && isNodeProcessAlive(pid, "curtis") && (await when(logFrom, data0))) {
        process.kill(pid, "SIGKILL");
        killed = pid;
      } else {
        await sleep(1);
      }
    }
    await starting;
    if (killed === undefined) {
      // The install (and the start) completed before this point was reached: nothing left to interrupt.
      outcomes.push(`${what}: install completed first`);
      break;
    }
    for (const end = Date.now() + 20_000; isNodeProcessAlive(killed, "curtis") && Date.now() < end;) await sleep(10);
    expect(isNodeProcessAlive(killed, "curtis")).toBe(false);
    // All or nothing at the crash point: the chain advanced only with every block durable; otherwise
    // the bundle is still in the inbox (the next start completes the install).
    const seq = seqOnDisk();
    const have = blocksOnDisk();
    const present = header.blocks.filter((b) => have.has(b.block_uuid)).length;
    outcomes.push(
      `${what}: chain seq ${seq}, ${present} of ${header.blocks.length} blocks on disk, bundle ${existsSync(inboxFile) ? "in the inbox" : "gone"}`,
    );
    if (seq === header.seq) {
      expect(present).toBe(header.blocks.length);
    } else {
      expect(seq).toBe(header.seq - 1);
      expect(existsSync(inboxFile)).toBe(true);
    }
  }
  console.log(`kill -9 during a ${header.blocks.length}-block install:\n  ${outcomes.join("\n  ")}`);

  // A normal start: installed exactly once.
  const st = await t.cli("--client", "curtis", "start");
  if (st.code !== 0) throw new Error(`start curtis failed: ${st.stderr}`);
  const after = await settled(() => clientAccounting(t, "curtis"));
  expect(after.hank.seq).toBe(header.seq);
  expect(after.hank.pools.client_owned.size).toBe(before.hank.pools.client_owned.size + poolBytes(header, "client"));
  expect(after.hank.pools.hub_owned.size).toBe(before.hank.pools.hub_owned.size + poolBytes(header, "hub"));
  expect(after.hank.pools.client_owned.blocks).toBe(before.hank.pools.client_owned.blocks + poolBlocks(header, "client"));
  expect(after.hank.pools.hub_owned.blocks).toBe(before.hank.pools.hub_owned.blocks + poolBlocks(header, "hub"));
  expect(readdirSync(inbox)).toEqual([]);
  for (const h of HUBS) expect([h, after[h].registered]).toEqual([h, true]);
  const hank = defined(
    await settled(async () => (await hubStatus(t, "hank")).peer_clients.find((c) => c.client_name === "curtis"), {
      ready: (c) => c?.psrd?.staged.hub === 0,
    }),
    "curtis at hank",
  );
  expect(defined(hank.psrd).staged).toEqual({ client: 0, hub: 0, blocks: 0 });
  await expectKeysFlow("sam", "sunny");
  await expectKeysFlow("susan", "sam");
});
