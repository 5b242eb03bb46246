/**
 * ETSI QKD 014 over GET, the calls the reference manager makes (`get-key-pair`): Get key on the
 * master SAE's KME, then Get key with key IDs on the slave SAE's KME. Both implementations are
 * asked the same way (`Authorization: <SAE ID>`, which the reference ignores and ours requires in
 * plain HTTP); the answers' `keys` shapes are returned as they came (the reference answers one
 * object to enc_keys, ETSI and ours a list).
 */
import type { SystemTopology } from "../harness";

export interface KeyAnswer {
  key_ID: string;
  key: string;
}

export interface KeyPairOverGet {
  enc: KeyAnswer;
  dec: KeyAnswer;
  encShape: "object" | "list";
  decShape: "object" | "list";
}

function keyOf(data: unknown, what: string): { key: KeyAnswer; shape: "object" | "list" } {
  const keys = data !== null && typeof data === "object" ? (data as Record<string, unknown>).keys : undefined;
  const one = Array.isArray(keys) ? (keys.length === 1 ? (keys[0] as unknown) : undefined) : keys;
  const o = (one ?? {}) as Record<string, unknown>;
  if (typeof o.key_ID !== "string" || typeof o.key !== "string")
    throw new Error(`${what}: no single {key_ID, key} in ${JSON.stringify(data)}`);
  return { key: { key_ID: o.key_ID, key: o.key }, shape: Array.isArray(keys) ? "list" : "object" };
}

export async function keyPairOverGet(t: SystemTopology, master: string, slave: string, sizeBits: number): Promise<KeyPairOverGet> {
  const enc = await t.http.get(t.etsiUrl(t.kmeOf(master), slave, "enc_keys"), {
    params: { size: sizeBits },
    headers: { Authorization: master },
  });
  if (enc.status !== 200) throw new Error(`enc_keys ${master} -> ${slave}: HTTP ${enc.status} ${JSON.stringify(enc.data)}`);
  const e = keyOf(enc.data, "enc_keys");
  const dec = await t.http.get(t.etsiUrl(t.kmeOf(slave), master, "dec_keys"), {
    params: { key_ID: e.key.key_ID },
    headers: { Authorization: slave },
  });
  if (dec.status !== 200) throw new Error(`dec_keys ${master} -> ${slave}: HTTP ${dec.status} ${JSON.stringify(dec.data)}`);
  const d = keyOf(dec.data, "dec_keys");
  return { enc: e.key, dec: d.key, encShape: e.shape, decShape: d.shape };
}
