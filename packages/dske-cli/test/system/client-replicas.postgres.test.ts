/**
 * System: a client (KME) with `replicas: 2` on PostgreSQL, started through `dske-cli start` as
 * real processes (hubs on file storage); ports 20021-20049 (20021 the throwaway cluster).
 * - carol#1 and carol#2 both serve ETSI for sam; carol#2 registers on the PSRD carol#1 installs;
 * - enc_keys through one replica, dec_keys at the peer; keys sent to sam are delivered once across
 *   the replicas (a second dec_keys through the other one is refused);
 * - kill -9 of carol#1 under load: the SAEs retry on carol#2 and get matching keys; no PSRD byte of
 *   carol's shared store used twice (its audit table).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { findPgBinaries, MISSING_POSTGRES_MESSAGE, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import { nodeBaseUrl, type NodeSpec } from "../../src/topology";
import { eventually, SYSTEM_TIMEOUT, SystemTopology, type EtsiKey } from "./harness";

jest.setTimeout(4 * SYSTEM_TIMEOUT);

const PG_PORT = 20021;
const FIRST_PORT = 20025;

function yaml(): string {
  return [
    `base_port: ${FIRST_PORT}`,
    "min_nr_shares: 2",
    "share_timeout_secs: 60",
    // Enough PSRD in the first bundles for the whole test (replenishment is carol#1's: see the README).
    "initial_psrd_bytes: 1048576",
    "hubs:",
    "  - name: hank",
    "  - name: helen",
    "  - name: hilary",
    "clients:",
    `  - name: carol\n    port: ${FIRST_PORT + 5}\n    replicas: 2\n    storage: { kind: postgres, url: "postgresql://postgres@127.0.0.1:${PG_PORT}/carol" }\n    encryptors:\n      - name: sam`,
    `  - name: curtis\n    port: ${FIRST_PORT + 8}\n    encryptors:\n      - name: sunny`,
    "",
  ].join("\n");
}

let cluster: ThrowawayCluster;
let t: SystemTopology;
let carol1: NodeSpec;
let carol2: NodeSpec;
let curtis: NodeSpec;

beforeAll(async () => {
  if (findPgBinaries() === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  cluster = await startThrowawayCluster({ port: PG_PORT });
  cluster.psql("CREATE DATABASE carol");
  t = new SystemTopology(FIRST_PORT, {}, yaml());
  const replica = (name: string) => {
    const n = t.topology.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  };
  carol1 = replica("carol#1");
  carol2 = replica("carol#2");
  curtis = replica("curtis");
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

/** One ETSI call as an SAE makes it: POST with its ID in Authorization. */
async function etsi(kme: NodeSpec, caller: string, peer: string, what: "enc_keys" | "dec_keys", body: object) {
  const res = await t.http.post(t.etsiUrl(kme, peer, what), body, { headers: { Authorization: caller } });
  return { status: res.status, keys: (res.data as { keys?: EtsiKey[] }).keys, data: res.data as unknown };
}

/** Every key ID an enc_keys handed out (a key, stocked or not, must go out once across the replicas). */
const issuedIds: string[] = [];

async function encDec(encAt: NodeSpec, master: string, decAt: NodeSpec, slave: string, number = 1): Promise<boolean> {
  const enc = await etsi(encAt, master, slave, "enc_keys", { number });
  if (enc.keys !== undefined) issuedIds.push(...enc.keys.map((k) => k.key_ID));
  if (enc.status !== 200 || enc.keys === undefined)
    throw new Error(`enc_keys at ${encAt.name}: HTTP ${enc.status} ${JSON.stringify(enc.data)}`);
  const dec = await etsi(decAt, slave, master, "dec_keys", { key_IDs: enc.keys.map((k) => ({ key_ID: k.key_ID })) });
  if (dec.status !== 200) throw new Error(`dec_keys at ${decAt.name}: HTTP ${dec.status} ${JSON.stringify(dec.data)}`);
  return same(enc.keys, dec.keys);
}

test("status lists both replicas of carol; the URL stays off their command lines", async () => {
  const r = await t.cli("status");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("carol#1");
  expect(r.stdout).toContain("carol#2");
  const log = readFileSync(path.join(t.stateDir, "logs", "carol#2.log"), "utf8");
  expect(log).toMatch(/--storage postgres/);
  expect(log).not.toMatch(/postgresql:\/\//);
  // carol's node state is rows of its database (written by the replicas, chain keys sealed).
  await eventually("carol's bundle chains in PostgreSQL", () =>
    Promise.resolve(cluster.psql("SELECT count(*) FROM dske_client_state WHERE name LIKE 'chain %'", "carol").trim() === "3"),
  );
  expect(cluster.psql("SELECT count(*) FROM dske_client_state WHERE value ? 'key'", "carol").trim()).toBe("0");
});

test("enc_keys through either replica of carol, dec_keys at curtis; and keys for sam through either replica", async () => {
  for (const c of [carol1, carol2]) {
    await eventually(`a key pair through ${c.name}`, () => encDec(c, "sam", curtis, "sunny", 2), 60_000, 500);
    expect(await encDec(curtis, "sunny", c, "sam", 2)).toBe(true);
  }
});

test("a key delivered to sam through carol#2 is refused through carol#1 (and the reverse)", async () => {
  for (const [first, second] of [
    [carol2, carol1],
    [carol1, carol2],
  ]) {
    const enc = await etsi(curtis, "sunny", "sam", "enc_keys", { number: 1 });
    expect(enc.status).toBe(200);
    const ids = { key_IDs: (enc.keys ?? []).map((k) => ({ key_ID: k.key_ID })) };
    const dec = await etsi(first, "sam", "sunny", "dec_keys", ids);
    expect(dec.status).toBe(200);
    expect(same(enc.keys ?? [], dec.keys)).toBe(true);
    const again = await etsi(second, "sam", "sunny", "dec_keys", ids);
    expect(again.status).toBe(400);
    expect(again.keys).toBeUndefined();
  }
});

test("kill -9 of carol#1 under load: the SAEs retry on carol#2 and get matching keys", async () => {
  const pid = Number(readFileSync(path.join(t.stateDir, "pids", "carol#1.pid"), "utf8").trim());
  let stop = false;
  let pairs = 0;
  let failovers = 0;
  // An SAE of carol calls carol#1 and, when that fails, carol#2 (a whole key pair is retried).
  const kmes = [carol1, carol2];
  const worker = async (samIsMaster: boolean) => {
    let preferred = 0;
    while (!stop) {
      for (let attempt = 0; ; attempt++) {
        const carol = kmes[preferred];
        try {
          const ok = samIsMaster ? await encDec(carol, "sam", curtis, "sunny") : await encDec(curtis, "sunny", carol, "sam");
          if (!ok) throw new Error(`mismatched key through ${carol.name}`);
          pairs++;
          break;
        } catch (err) {
          if (String(err).includes("mismatched")) throw err;
          if (attempt >= 3) throw err;
          preferred = 1;
          failovers++;
        }
      }
    }
  };
  const load = Promise.all([worker(true), worker(false), worker(true)]);
  await eventually("key pairs under load", () => Promise.resolve(pairs >= 10), 60_000, 50);
  // The key stock (on by default) serves sam's enc_keys on carol#1 by now.
  await eventually(
    "keys from carol#1's key stock",
    async () => {
      const st = await t.http.get(`${nodeBaseUrl(carol1)}/mgmt/v1/status`, { headers: t.operatorHeaders() });
      const keys = (st.data as { keys?: { issued_from_stock?: number } }).keys;
      return (keys?.issued_from_stock ?? 0) > 0;
    },
    30_000,
    100,
  );
  process.kill(pid, "SIGKILL");
  const after = pairs;
  await eventually("key pairs through carol#2 alone", () => Promise.resolve(pairs >= after + 20), 90_000, 100);
  stop = true;
  await load;
  expect(pairs).toBeGreaterThanOrEqual(after + 20);
  // The three SAE loops moved over once each (a call in flight at the kill, or the next one).
  expect(failovers).toBeGreaterThanOrEqual(1);
  expect(failovers).toBeLessThanOrEqual(12);
  // No key ID handed out twice by enc_keys across the replicas (stocked keys included).
  expect(new Set(issuedIds).size).toBe(issuedIds.length);
  // No PSRD byte of carol used twice across its replicas, and both replicas used PSRD.
  await eventually("carol#1's sessions gone", () =>
    Promise.resolve(
      // A replica's sessions are named after it (client@host:pid): a killed one's statement may still commit.
      cluster.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = 'carol' AND application_name LIKE '%:${pid}'`, "carol").trim() ===
        "0",
    ),
  );
  const overlaps = cluster.psql(
    "SELECT count(*) FROM dske_psrd.audit a JOIN dske_psrd.audit b ON a.pool = b.pool AND a.block_uuid = b.block_uuid " +
      "AND a.id < b.id AND a.start < b.start + b.size AND b.start < a.start + a.size",
    "carol",
  );
  expect(overlaps.trim()).toBe("0");
  expect(Number(cluster.psql("SELECT count(DISTINCT replica) FROM dske_psrd.audit", "carol").trim())).toBeGreaterThanOrEqual(2);
});

test("dske-cli etsi-qkd moves to carol#2 while carol#1 is down (connection refused)", async () => {
  const down = await t.http.get(t.etsiUrl(carol1, "sunny", "status")).then(
    () => false,
    () => true,
  );
  expect(down).toBe(true);
  for (const [master, slave] of [
    ["sam", "sunny"],
    ["sunny", "sam"],
  ]) {
    const r = await t.cli("etsi-qkd", master, slave, "get-key-pair", "--number", "2");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Key values match");
  }
});
