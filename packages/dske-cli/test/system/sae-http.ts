/**
 * ETSI calls as an SAE against a topology started by `dske-cli start` in either mode: plain HTTP
 * (the SAE is named in the Authorization header) or `start --tls` (HTTPS, the SAE proves itself
 * with its certificate from `<state_dir>/tls`, created by `dske-cli certs`).
 */
import https from "node:https";
import { certLayout, readTlsMaterial, tlsEnabled } from "../../src/certs";
import { nodeBaseUrl } from "../../src/topology";
import type { EtsiKey, SystemTopology } from "./harness";

export interface HttpAnswer {
  status: number;
  data: unknown;
}

const agents = new Map<string, https.Agent>();

/** The https agent presenting `identity`'s certificate (an SAE, or a client node with `kind: "client"`). */
export function certificateAgent(t: SystemTopology, identity: string, kind: "sae" | "client" | "operator" = "sae"): https.Agent {
  const key = `${t.stateDir}\0${kind}\0${identity}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    const layout = certLayout(t.stateDir);
    const files = kind === "sae" ? layout.sae(identity) : kind === "client" ? layout.client(identity) : layout.operator;
    const m = readTlsMaterial(layout, files);
    agent = new https.Agent({ keepAlive: false, ca: m.ca, cert: m.cert, key: m.key, minVersion: "TLSv1.2" });
    agents.set(key, agent);
  }
  return agent;
}

/** Whether the topology's clients serve HTTPS with mutual TLS (recorded by `start --tls`). */
export const isTls = (t: SystemTopology): boolean => tlsEnabled(t.stateDir);

/** POST an ETSI route of `sae`'s own KME as `sae` (`peer` is the other SAE in the path). */
export async function etsiPost(
  t: SystemTopology,
  sae: string,
  peer: string,
  what: "enc_keys" | "dec_keys",
  body: unknown,
): Promise<HttpAnswer> {
  const tls = isTls(t);
  const url = `${nodeBaseUrl(t.kmeOf(sae), tls)}/etsi/api/v1/keys/${encodeURIComponent(peer)}/${what}`;
  const r = await t.http.post(url, body, tls ? { httpsAgent: certificateAgent(t, sae) } : { headers: { Authorization: sae } });
  return { status: r.status, data: r.data };
}

/** enc_keys as `master` for `slave` (one key unless `number`); throws on an HTTP error. */
export async function encKeys(t: SystemTopology, master: string, slave: string, number = 1): Promise<EtsiKey[]> {
  const r = await etsiPost(t, master, slave, "enc_keys", { number });
  if (r.status !== 200) throw new Error(`enc_keys ${master}->${slave}: HTTP ${r.status} ${JSON.stringify(r.data)}`);
  return (r.data as { keys: EtsiKey[] }).keys;
}

/** dec_keys as `slave` for keys of `master`. */
export function decKeys(t: SystemTopology, slave: string, master: string, keyIds: readonly string[]): Promise<HttpAnswer> {
  return etsiPost(t, slave, master, "dec_keys", { key_IDs: keyIds.map((key_ID) => ({ key_ID })) });
}

/** A key pair master → slave; returns both sides (throws on an HTTP error). */
export async function saeKeyPair(
  t: SystemTopology,
  master: string,
  slave: string,
  number = 1,
): Promise<{ enc: EtsiKey[]; dec: EtsiKey[] }> {
  const enc = await encKeys(t, master, slave, number);
  const d = await decKeys(
    t,
    slave,
    master,
    enc.map((k) => k.key_ID),
  );
  if (d.status !== 200) throw new Error(`dec_keys ${master}->${slave}: HTTP ${d.status} ${JSON.stringify(d.data)}`);
  return { enc, dec: (d.data as { keys: EtsiKey[] }).keys };
}
