/**
 * Re-encryption of live chunk rows to the current epoch, so that the keys of older epochs can be
 * erased without losing unconsumed PSRD. One replica at a time does it: the one that gets the
 * transaction-scoped advisory lock; batches of rows are locked with FOR UPDATE SKIP LOCKED (rows
 * a pool operation holds are taken in a later pass). Rows encrypted under a key this replica no
 * longer has are left alone (a replica restarted with an older key file may still rescue them).
 */
import { decryptChunk, encryptChunk } from "./cipher.js";
import { first, type Db } from "./db.js";
import { keyCheck, type KeyChain } from "./key-chain.js";

const BATCH = 256;

interface OldChunk {
  pool_id: string;
  uuid: string;
  n: number;
  epoch: string;
  iv: Buffer;
  data: Buffer;
}

/** Advisory lock key of a schema's re-encryption (two int4 keys: a constant and the schema's hash). */
export const REENCRYPT_LOCK = 0x64736b65; // "dske"

/** Re-encrypt every readable row older than `epoch`. Returns the rows re-encrypted, or -1 if another replica holds the lock. */
export async function reencrypt(db: Db, schema: string, keys: KeyChain, epoch: number): Promise<number> {
  const target = keys.dataKey(epoch);
  if (target === undefined) return 0;
  let total = 0;
  for (;;) {
    const done = await db.tx(async (sql) => {
      const lock = first(
        await sql.query<{ ok: boolean }>("reenc_lock", `SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok`, [
          REENCRYPT_LOCK,
          schema,
        ]),
      );
      if (lock?.ok !== true) return -1;
      const rows = await sql.query<OldChunk>(
        "reenc_select",
        `SELECT pool_id, uuid, n, epoch, iv, data FROM ${schema}.chunks WHERE epoch < $1 AND epoch >= $2 LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        [epoch, keys.baseEpoch],
      );
      if (rows.length === 0) {
        const ck = keys.chainKey(epoch);
        if (ck !== undefined) {
          await sql.query("reenc_check", `UPDATE ${schema}.meta SET check_epoch = $1, key_check = $2 WHERE id = 1 AND check_epoch < $1`, [
            epoch,
            keyCheck(ck),
          ]);
        }
        return 0;
      }
      const ivs: Buffer[] = [];
      const cts: Buffer[] = [];
      for (const r of rows) {
        const dk = keys.dataKey(Number(r.epoch));
        if (dk === undefined) throw new Error("key window moved during re-encryption");
        const plain = decryptChunk(dk, r.iv, r.data);
        const { iv, data } = encryptChunk(target, plain);
        plain.fill(0);
        ivs.push(iv);
        cts.push(data);
      }
      await sql.query(
        "reenc_update",
        `UPDATE ${schema}.chunks c SET epoch = $1, iv = w.iv, data = w.data
           FROM unnest($2::bigint[], $3::text[], $4::int[], $5::bytea[], $6::bytea[]) AS w(pool_id, uuid, n, iv, data)
          WHERE c.pool_id = w.pool_id AND c.uuid = w.uuid AND c.n = w.n`,
        [epoch, rows.map((r) => r.pool_id), rows.map((r) => r.uuid), rows.map((r) => r.n), ivs, cts],
      );
      return rows.length;
    });
    if (done === -1) return total === 0 ? -1 : total;
    if (done === 0) return total;
    total += done;
  }
}
