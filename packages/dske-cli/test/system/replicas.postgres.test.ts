/**
 * System: hubs with `replicas: 3` on PostgreSQL (each hub its own database in one throwaway
 * cluster), started through `dske-cli start` as real processes; ports 19921-19959.
 * - key pairs through ETSI, with the shares posted through one replica and fetched through
 *   another (the replicas that took the posts are stopped before dec_keys);
 * - kill -9 of the active replica of every hub under load: the SAEs see at most retried calls
 *   and never a mismatched key, and the shared PSRD store's audit shows no byte used twice;
 * - a PostgreSQL restart: the hubs answer 503 while it is down and recover by themselves.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { findPgBinaries, MISSING_POSTGRES_MESSAGE, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import { eventually, keyPair, SYSTEM_TIMEOUT, SystemTopology, type EtsiKey } from "./harness";

jest.setTimeout(4 * SYSTEM_TIMEOUT);

const PG_PORT = 19921;
const HUBS = ["hank", "helen", "hilary"] as const;
const FIRST_HUB_PORT = 19925;

function yaml(): string {
  const hubs = HUBS.map(
    (h, i) =>
      `  - name: ${h}\n    port: ${FIRST_HUB_PORT + 3 * i}\n    replicas: 3\n    storage: { kind: postgres, url: "postgresql://postgres@127.0.0.1:${PG_PORT}/${h}" }`,
  ).join("\n");
  return [
    `base_port: ${FIRST_HUB_PORT}`,
    "min_nr_shares: 2",
    "share_timeout_secs: 60",
    "initial_psrd_bytes: 65536",
    "hubs:",
    hubs,
    "clients:",
    `  - name: carol\n    port: ${FIRST_HUB_PORT + 9}\n    encryptors:\n      - name: sam`,
    `  - name: curtis\n    port: ${FIRST_HUB_PORT + 10}\n    encryptors:\n      - name: sunny`,
    "",
  ].join("\n");
}

let cluster: ThrowawayCluster;
let t: SystemTopology;

beforeAll(async () => {
  if (findPgBinaries() === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  cluster = await startThrowawayCluster({ port: PG_PORT });
  for (const h of HUBS) cluster.psql(`CREATE DATABASE ${h}`);
  t = new SystemTopology(FIRST_HUB_PORT, {}, yaml());
  const r = await t.cli("start");
  if (r.code !== 0) throw new Error(`dske-cli start failed: ${r.stderr}\n${r.out.join("\n")}`);
}, 2 * SYSTEM_TIMEOUT);

afterAll(async () => {
  await t.cli("stop");
  await cluster.stop();
}, SYSTEM_TIMEOUT);

function same(a: readonly EtsiKey[], b: readonly EtsiKey[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((k, i) => k.key_ID === b[i].key_ID && k.key === b[i].key);
}

test("status lists every replica; the hubs keep their state in PostgreSQL", async () => {
  const r = await t.cli("status");
  expect(r.code).toBe(0);
  for (const h of HUBS) for (const n of [1, 2, 3]) expect(r.stdout).toContain(`${h}#${n}`);
  // The registrations of both clients are rows in each hub's database (the replicas share them).
  for (const h of HUBS) {
    await eventually(`${h}'s registrations in PostgreSQL`, () => {
      const regs = cluster.psql("SELECT rec->>'c' FROM dske_hub_journal WHERE rec->>'t' = 'reg' ORDER BY 1", h);
      return Promise.resolve(
        regs
          .split("\n")
          .filter((l) => l !== "")
          .join(",") === "carol,curtis",
      );
    });
  }
  // The URL (and a password it may hold) is in the environment, not on the command line.
  const log = readFileSync(path.join(t.stateDir, "logs", "hank#2.log"), "utf8");
  expect(log).toMatch(/--storage postgres/);
  expect(log).not.toMatch(/postgresql:\/\//);
});

test("shares posted through the first replicas are fetched through the second ones", async () => {
  await eventually(
    "a first key pair",
    async () => {
      const { enc, dec } = await keyPair(t, "sam", "sunny", { number: 2 });
      return same(enc, dec.sunny);
    },
    60_000,
  );
  const enc = await t.http.post(t.etsiUrl(t.kmeOf("sam"), "sunny", "enc_keys"), { number: 3 }, { headers: { Authorization: "sam" } });
  expect(enc.status).toBe(200);
  const keys = (enc.data as { keys: EtsiKey[] }).keys;
  // The replicas that took the share posts (the clients stick to the first one) go away.
  const stopped = await t.cli("stop", ...HUBS.flatMap((h) => ["--hub", `${h}#1`]));
  expect(stopped.code).toBe(0);
  const dec = await t.http.post(
    t.etsiUrl(t.kmeOf("sunny"), "sam", "dec_keys"),
    { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) },
    { headers: { Authorization: "sunny" } },
  );
  expect(dec.status).toBe(200);
  expect(same(keys, (dec.data as { keys: EtsiKey[] }).keys)).toBe(true);
  // New keys go through the remaining replicas.
  const { enc: e2, dec: d2 } = await keyPair(t, "sunny", "sam", { number: 2 });
  expect(same(e2, d2.sam)).toBe(true);
});

test("kill -9 of the active replica of every hub under load: retried calls at most, no mismatched key", async () => {
  const pidOf = (name: string) => Number(readFileSync(path.join(t.stateDir, "pids", `${name}.pid`), "utf8").trim());
  let stop = false;
  let pairs = 0;
  let retries = 0;
  const worker = async (m: string, s: string) => {
    while (!stop) {
      let attempt = 0;
      for (;;) {
        try {
          const { enc, dec } = await keyPair(t, m, s);
          if (!same(enc, dec[s])) throw new Error(`mismatched key ${m} -> ${s}: ${JSON.stringify(enc.map((k) => k.key_ID))}`);
          pairs++;
          break;
        } catch (err) {
          if (String(err).includes("mismatched")) throw err;
          if (++attempt > 3) throw err;
          retries++;
        }
      }
    }
  };
  const load = Promise.all([worker("sam", "sunny"), worker("sunny", "sam"), worker("sam", "sunny")]);
  await eventually("some key pairs under load", () => Promise.resolve(pairs >= 5), 60_000, 50);
  // The active replica of each hub: the first one still running (the clients stick to it).
  const alive = (name: string) => {
    try {
      process.kill(pidOf(name), 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const h of HUBS) {
    const active = [1, 2].map((n) => `${h}#${n}`).find(alive);
    if (active === undefined) throw new Error(`no running replica of ${h} among #1 and #2`);
    process.kill(pidOf(active), "SIGKILL");
  }
  const after = pairs;
  await eventually("key pairs through the third replicas", () => Promise.resolve(pairs >= after + 10), 90_000, 100);
  stop = true;
  await load;
  expect(pairs).toBeGreaterThanOrEqual(after + 10);
  // Each SAE call is retried at most 3 times, and only a few are.
  expect(retries).toBeLessThanOrEqual(pairs);
  // No PSRD byte used twice, across the replicas of each hub (the shared store's audit table):
  // no two consumed fragments of one block overlap, and several replicas consumed.
  for (const h of HUBS) {
    const overlaps = cluster.psql(
      "SELECT count(*) FROM dske_psrd.audit a JOIN dske_psrd.audit b ON a.pool = b.pool AND a.block_uuid = b.block_uuid " +
        "AND a.id < b.id AND a.start < b.start + b.size AND b.start < a.start + a.size",
      h,
    );
    expect(overlaps.trim()).toBe("0");
    expect(Number(cluster.psql("SELECT count(DISTINCT replica) FROM dske_psrd.audit", h).trim())).toBeGreaterThanOrEqual(2);
  }
});

test("PostgreSQL restart: 503 from the hubs while it is down, recovery by itself", async () => {
  const url = (h: string) =>
    `http://127.0.0.1:${FIRST_HUB_PORT + 3 * HUBS.indexOf(h as (typeof HUBS)[number]) + 2}/hub/${h}/mgmt/v1/status`;
  await cluster.pgStop();
  try {
    await eventually(
      "503 from hank#3",
      async () => (await t.http.get(url("hank"), { headers: t.operatorHeaders() })).status === 503,
      30_000,
    );
    const res = await t.http.get(url("hank"), { headers: t.operatorHeaders() });
    expect((res.data as { message: string }).message).toMatch(/PostgreSQL|unavailable/i);
  } finally {
    await cluster.pgStart();
  }
  await eventually(
    "hank#3 answers again",
    async () => (await t.http.get(url("hank"), { headers: t.operatorHeaders() })).status === 200,
    60_000,
  );
  await eventually(
    "a key pair after the restart",
    async () => {
      const { enc, dec } = await keyPair(t, "sam", "sunny");
      return same(enc, dec.sunny);
    },
    90_000,
    500,
  );
});
