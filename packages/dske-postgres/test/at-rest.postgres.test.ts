/**
 * Secrets at rest: PSRD bytes never reach PostgreSQL's files in plaintext (heap, pg_wal, every
 * file of the data directory), and the ciphertext of consumed bytes — which stays behind in WAL,
 * dead tuples and backups — becomes undecryptable two epochs after the consumption: the key file
 * and memory then hold only later epoch keys, which cannot be ratcheted back. The epoch is driven
 * by an injected clock (no sleeping). Port 19906.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import type { ThrowawayCluster } from "@dske/postgres/testing";
import { KeyChain, PgPsrdStore, PsrdKeyFileError } from "../src/index.js";
import { decryptChunk } from "../src/cipher.js";
import { clusterForTests, freshSchema, tempDir } from "./pg-fixture.js";

let cluster: ThrowawayCluster;
beforeAll(async () => {
  cluster = await clusterForTests(19906);
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

/** Relative paths of the files under `dir` that contain `needle`. */
function filesContaining(dir: string, needle: Uint8Array): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).indexOf(needle) >= 0) out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

const hexOf = (sql: string): Buffer => Buffer.from(cluster.psql(sql).trim(), "hex");

test("plaintext never on disk; consumed bytes' old ciphertext undecryptable after two epochs", async () => {
  const EPOCH = 600_000;
  let now = 5000 * EPOCH + 1234;
  const dir = tempDir();
  const keyFile = path.join(dir, "replica.key");
  const schema = freshSchema("atrest");
  const store = await PgPsrdStore.open({ url: cluster.url, schema, keyFile, refreshMs: 0, now: () => now });
  try {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const e0 = store.epoch();
    const L = await store.openPool("L", "local");
    const pattern = randomBytes(32);
    const block = randomBytes(3000);
    pattern.copy(block, 100);
    await L.addBlock("00000000-0000-4000-8000-00000000a11e", block, { keyPrefix: 16 });
    cluster.psql("CHECKPOINT");

    // Stored encrypted: the plaintext is nowhere in the cluster's files; its ciphertext is (heap and WAL).
    expect(filesContaining(cluster.dataDir, pattern)).toEqual([]);
    const chunk = `FROM ${schema}.chunks WHERE n = 0`;
    const iv0 = hexOf(`SELECT encode(iv, 'hex') ${chunk}`);
    const data0 = hexOf(`SELECT encode(data, 'hex') ${chunk}`);
    const cipherPattern = data0.subarray(100, 132);
    expect(cluster.psql(`SELECT epoch ${chunk}`).trim()).toBe(String(e0));
    expect(filesContaining(cluster.dataDir, cipherPattern).some((f) => f.startsWith("pg_wal"))).toBe(true);
    // ...and the key file decrypts it today (the check below is meaningful).
    const oldKey = KeyChain.load(keyFile).dataKey(e0);
    expect(oldKey).toBeDefined();
    expect(decryptChunk(oldKey ?? Buffer.alloc(32), iv0, data0).subarray(100, 132)).toEqual(pattern);
    const oldChainHex = readFileSync(keyFile, "utf8");

    // Consume the pattern: the live row's ciphertext bytes are zeroed at once.
    const a = await L.allocate(116, "consume the pattern");
    expect(Buffer.from(a.data.subarray(84, 116))).toEqual(pattern);
    expect(hexOf(`SELECT encode(substring(data from 101 for 32), 'hex') ${chunk}`)).toEqual(Buffer.alloc(32));
    cluster.psql("CHECKPOINT");
    // The old ciphertext is still in WAL (as it would be in archives and base backups).
    expect(filesContaining(path.join(cluster.dataDir, "pg_wal"), cipherPattern).length).toBeGreaterThan(0);

    // One epoch later: live rows re-encrypted to the new epoch; the previous key is still kept.
    now += EPOCH;
    await store.tick();
    expect(await store.diagnostics()).toEqual({ epoch: e0 + 1, keyBaseEpoch: e0, staleChunks: 0 });
    expect(cluster.psql(`SELECT epoch ${chunk}`).trim()).toBe(String(e0 + 1));
    expect(KeyChain.load(keyFile).baseEpoch).toBe(e0);

    // Two epochs after the consumption: the key of epoch e0 is gone from memory and the key file.
    now += EPOCH;
    await store.tick();
    expect((await store.diagnostics()).keyBaseEpoch).toBe(e0 + 1);
    const onDisk = KeyChain.load(keyFile);
    expect(onDisk.baseEpoch).toBe(e0 + 1);
    expect(onDisk.dataKey(e0)).toBeUndefined();
    expect(readFileSync(keyFile, "utf8")).not.toBe(oldChainHex);
    // No key derivable from what is left decrypts the old ciphertext to the consumed bytes.
    for (let e = e0 + 1; e <= e0 + 3; e++) {
      const k = onDisk.dataKey(e);
      expect(k).toBeDefined();
      expect(decryptChunk(k ?? Buffer.alloc(32), iv0, data0).subarray(100, 132)).not.toEqual(pattern);
    }
    cluster.psql("CHECKPOINT");
    expect(filesContaining(cluster.dataDir, pattern)).toEqual([]);

    // Unconsumed bytes survived the two re-encryptions.
    const b = await L.allocate(50, "after two epochs");
    expect(Buffer.from(b.data)).toEqual(block.subarray(132, 182));
    expect(filesContaining(cluster.dataDir, block.subarray(132, 164))).toEqual([]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("a replica without the key file, or with another store's, is refused with a clear error", async () => {
  const dir = tempDir();
  const schema = freshSchema("keys");
  const first = await PgPsrdStore.open({ url: cluster.url, schema, keyFile: path.join(dir, "a.key"), refreshMs: 0 });
  try {
    const missing = await PgPsrdStore.open({ url: cluster.url, schema, keyFile: path.join(dir, "missing.key"), refreshMs: 0 }).catch(
      (x: unknown) => x,
    );
    expect(missing).toBeInstanceOf(PsrdKeyFileError);
    expect((missing as Error).message).toMatch(/missing.*copy the key file of another replica/);
    const other = await PgPsrdStore.open({ url: cluster.url, schema: freshSchema("keys"), keyFile: path.join(dir, "b.key"), refreshMs: 0 });
    await other.close();
    const wrong = await PgPsrdStore.open({ url: cluster.url, schema, keyFile: path.join(dir, "b.key"), refreshMs: 0 }).catch(
      (x: unknown) => x,
    );
    expect(wrong).toBeInstanceOf(PsrdKeyFileError);
    expect((wrong as PsrdKeyFileError).code).toBe("key_file");
    expect((wrong as Error).message).toMatch(/does not belong/);
  } finally {
    await first.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
