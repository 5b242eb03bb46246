/**
 * The peer-pool operations as one server-side function (one round trip, one transaction):
 * `psrd_peer(pool, uuids, starts, sizes, purpose, replica, mode, token, ttl_ms)` with mode
 *   'reserve'  check and hold the fragments (rows in reservations), return their ciphertext;
 *   'take'     check and consume them: consumed ranges, audit rows, accounting, pieces zeroed in
 *              the live rows, the OLD ciphertext returned;
 *   'commit'   consume the fragments of reservation `token` (no checks: the reservation holds
 *              them), or fail with PX015 if its rows expired and were removed.
 * The named blocks' rows are locked FOR UPDATE in UUID order first (no deadlock between callers).
 * SQLSTATEs: PX002 pool deleted; PX010 unknown_block, PX011 out_of_range, PX012 key_prefix,
 * PX013 consumed, PX014 reserved (message: the block UUID); PX015 reservation expired.
 */
import { CHUNK_SIZE } from "./schema.js";

export function peerFunction(s: string): string {
  return `CREATE OR REPLACE FUNCTION ${s}.psrd_peer(p_pool bigint, p_uuids text[], p_starts int[], p_sizes int[], p_purpose text,
  p_replica text, p_mode text, p_token uuid, p_ttl_ms int)
RETURNS TABLE (o_uuid text, o_off int, o_len int, o_epoch bigint, o_iv bytea, o_data bytea, o_bused int,
               o_blocks int, o_psize bigint, o_pused bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  pr record;
  b record;
  i int;
  n int := coalesce(array_length(p_uuids, 1), 0);
  total int := 0;
  gone int;
  pos int;
  fend int;
  cn int;
  co int;
  cl int;
  bused int;
BEGIN
  SELECT p.blocks, p.size, p.used, p.name, p.owner INTO pr FROM ${s}.pools p WHERE p.id = p_pool FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pool deleted' USING ERRCODE = 'PX002';
  END IF;
  PERFORM 1 FROM ${s}.blocks bl WHERE bl.pool_id = p_pool AND bl.uuid = ANY(p_uuids) ORDER BY bl.uuid FOR UPDATE;
  IF p_mode = 'commit' THEN
    DELETE FROM ${s}.reservations r WHERE r.token = p_token;
    GET DIAGNOSTICS gone = ROW_COUNT;
    IF gone <> n THEN
      RAISE EXCEPTION 'reservation expired' USING ERRCODE = 'PX015';
    END IF;
  ELSE
    FOR i IN 1 .. n LOOP
      SELECT bl.size, bl.key_prefix INTO b FROM ${s}.blocks bl WHERE bl.pool_id = p_pool AND bl.uuid = p_uuids[i];
      IF NOT FOUND THEN
        RAISE EXCEPTION '%', p_uuids[i] USING ERRCODE = 'PX010';
      END IF;
      IF p_starts[i] + p_sizes[i] > b.size THEN
        RAISE EXCEPTION '%', p_uuids[i] USING ERRCODE = 'PX011';
      END IF;
      IF p_starts[i] < b.key_prefix THEN
        RAISE EXCEPTION '%', p_uuids[i] USING ERRCODE = 'PX012';
      END IF;
    END LOOP;
    PERFORM 1 FROM ${s}.consumed t JOIN unnest(p_uuids, p_starts, p_sizes) AS w(uuid, start, size)
        ON t.uuid = w.uuid AND t.start < w.start + w.size AND t.start + t.size > w.start
      WHERE t.pool_id = p_pool;
    IF FOUND THEN
      RAISE EXCEPTION 'consumed' USING ERRCODE = 'PX013';
    END IF;
    DELETE FROM ${s}.reservations r WHERE r.pool_id = p_pool AND r.uuid = ANY(p_uuids) AND r.expires_at < clock_timestamp();
    PERFORM 1 FROM ${s}.reservations t JOIN unnest(p_uuids, p_starts, p_sizes) AS w(uuid, start, size)
        ON t.uuid = w.uuid AND t.start < w.start + w.size AND t.start + t.size > w.start
      WHERE t.pool_id = p_pool;
    IF FOUND THEN
      RAISE EXCEPTION 'reserved' USING ERRCODE = 'PX014';
    END IF;
  END IF;
  IF p_mode = 'reserve' THEN
    INSERT INTO ${s}.reservations (token, pool_id, uuid, start, size, replica, expires_at)
      SELECT p_token, p_pool, w.uuid, w.start, w.size, p_replica, clock_timestamp() + make_interval(secs => p_ttl_ms / 1000.0)
        FROM unnest(p_uuids, p_starts, p_sizes) AS w(uuid, start, size);
  ELSE
    INSERT INTO ${s}.consumed (pool_id, uuid, start, size) SELECT p_pool, * FROM unnest(p_uuids, p_starts, p_sizes);
    FOR i IN 1 .. n LOOP
      total := total + p_sizes[i];
      INSERT INTO ${s}.audit (pool, owner, op, block_uuid, start, size, purpose, replica)
        VALUES (pr.name, pr.owner, 'take', p_uuids[i], p_starts[i], p_sizes[i], p_purpose, p_replica);
    END LOOP;
    UPDATE ${s}.pools SET used = used + total WHERE id = p_pool;
  END IF;
  FOR i IN 1 .. n LOOP
    bused := NULL;
    IF p_mode <> 'reserve' THEN
      UPDATE ${s}.blocks bl SET used = bl.used + p_sizes[i] WHERE bl.pool_id = p_pool AND bl.uuid = p_uuids[i] RETURNING bl.used INTO bused;
    END IF;
    pos := p_starts[i];
    fend := p_starts[i] + p_sizes[i];
    WHILE pos < fend LOOP
      cn := pos / ${CHUNK_SIZE};
      co := pos - cn * ${CHUNK_SIZE};
      cl := least(${CHUNK_SIZE} - co, fend - pos);
      RETURN QUERY SELECT p_uuids[i], co, cl, c.epoch, c.iv, c.data, bused, pr.blocks, pr.size, pr.used + total
        FROM ${s}.chunks c WHERE c.pool_id = p_pool AND c.uuid = p_uuids[i] AND c.n = cn;
      IF p_mode <> 'reserve' THEN
        UPDATE ${s}.chunks c SET data = overlay(c.data placing decode(repeat('00', cl), 'hex') from co + 1 for cl)
          WHERE c.pool_id = p_pool AND c.uuid = p_uuids[i] AND c.n = cn;
      END IF;
      pos := pos + cl;
    END LOOP;
  END LOOP;
END
$fn$`;
}
