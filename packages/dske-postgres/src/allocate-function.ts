/**
 * The owned-pool allocation as one server-side function (one round trip, one transaction): lock
 * the pool row (FOR UPDATE), bump-allocate across the blocks in order, record the audit rows,
 * return the OLD ciphertext of every chunk piece and zero that piece in the live row (zeroing
 * needs no key: CTR ciphertext is erased in place), account the bytes. The caller decrypts.
 * SQLSTATE PX001 = exhausted (message "exhausted:<available>"), PX002 = pool deleted.
 */
import { CHUNK_SIZE } from "./schema.js";

export function allocateFunction(s: string): string {
  return `CREATE OR REPLACE FUNCTION ${s}.psrd_allocate(p_pool bigint, p_size int, p_purpose text, p_replica text)
RETURNS TABLE (o_uuid text, o_start int, o_size int, o_off int, o_len int, o_epoch bigint, o_iv bytea, o_data bytea,
               o_blocks int, o_psize bigint, o_pused bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  pr record;
  b record;
  remaining int := p_size;
  n_take int;
  pos int;
  cn int;
  co int;
  cl int;
BEGIN
  SELECT p.blocks, p.size, p.used, p.name, p.owner INTO pr FROM ${s}.pools p WHERE p.id = p_pool FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pool deleted' USING ERRCODE = 'PX002';
  END IF;
  IF p_size > pr.size - pr.used THEN
    RAISE EXCEPTION 'exhausted:%', pr.size - pr.used USING ERRCODE = 'PX001';
  END IF;
  FOR b IN SELECT bl.uuid, bl.size, bl.hwm FROM ${s}.blocks bl WHERE bl.pool_id = p_pool AND bl.hwm < bl.size ORDER BY bl.idx LOOP
    EXIT WHEN remaining = 0;
    n_take := least(remaining, b.size - b.hwm);
    UPDATE ${s}.blocks bl SET hwm = b.hwm + n_take, used = b.hwm + n_take WHERE bl.pool_id = p_pool AND bl.uuid = b.uuid;
    INSERT INTO ${s}.audit (pool, owner, op, block_uuid, start, size, purpose, replica)
      VALUES (pr.name, pr.owner, 'allocate', b.uuid, b.hwm, n_take, p_purpose, p_replica);
    pos := b.hwm;
    WHILE pos < b.hwm + n_take LOOP
      cn := pos / ${CHUNK_SIZE};
      co := pos - cn * ${CHUNK_SIZE};
      cl := least(${CHUNK_SIZE} - co, b.hwm + n_take - pos);
      RETURN QUERY SELECT b.uuid, b.hwm, n_take, co, cl, c.epoch, c.iv, c.data, pr.blocks, pr.size, pr.used + p_size
        FROM ${s}.chunks c WHERE c.pool_id = p_pool AND c.uuid = b.uuid AND c.n = cn FOR UPDATE;
      UPDATE ${s}.chunks c SET data = overlay(c.data placing decode(repeat('00', cl), 'hex') from co + 1 for cl)
        WHERE c.pool_id = p_pool AND c.uuid = b.uuid AND c.n = cn;
      pos := pos + cl;
    END LOOP;
    remaining := remaining - n_take;
  END LOOP;
  IF remaining > 0 THEN
    RAISE EXCEPTION 'exhausted:%', p_size - remaining USING ERRCODE = 'PX001';
  END IF;
  UPDATE ${s}.pools SET used = used + p_size WHERE id = p_pool;
END
$fn$`;
}
