/**
 * ETSI GS QKD 014 calls from an SAE's point of view, against the client (KME) hosting it:
 * Get status, Get key (enc_keys), Get key with key IDs (dec_keys). The calling SAE is named by the
 * `Authorization` header (SYSTEM.md "Calling SAE identity") over plain HTTP; with `tls` the calls
 * go over HTTPS with the calling SAE's client certificate (CN = SAE ID), which is what the KME
 * trusts then. Responses are returned whatever their status; the caller decides what an error means.
 */
import http from "node:http";
import https from "node:https";
import type { AxiosInstance } from "axios";
import { loadAxios } from "./lazy-axios";
import type { EtsiKey } from "@dske/protocol";
import { nodeBaseUrl, type NodeSpec } from "./topology";

/** A key of an ETSI key container (`KeySchema` of @dske/protocol). */
export type { EtsiKey } from "@dske/protocol";

export interface EtsiResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface GetKeyOptions {
  size?: number;
  number?: number;
  additionalSlaveSaeIds?: string[];
}

/** Mutual TLS for ETSI calls: the topology CA and each SAE's certificate and key (PEM). */
export interface EtsiCallerTls {
  readonly ca: Buffer;
  identity(sae: string): { cert: Buffer; key: Buffer };
}

export class EtsiCaller {
  private httpClient: Promise<AxiosInstance> | undefined;
  private readonly agents = new Map<string, https.Agent>();

  constructor(
    private readonly agent: http.Agent = new http.Agent({ keepAlive: true }),
    private readonly tls?: EtsiCallerTls,
  ) {}

  /** The axios instance of this caller (axios is loaded on the first call: lazy-axios.ts). */
  private http(): Promise<AxiosInstance> {
    this.httpClient ??= loadAxios().then((axios) =>
      axios.create({
        httpAgent: this.agent,
        proxy: false,
        validateStatus: () => true,
        maxContentLength: Infinity,
        timeout: 60_000,
      }),
    );
    return this.httpClient;
  }

  private keysUrl(kme: NodeSpec, sae: string, what: string): string {
    return `${nodeBaseUrl(kme, this.tls !== undefined)}/etsi/api/v1/keys/${encodeURIComponent(sae)}/${what}`;
  }

  /** Request options identifying `sae`: its certificate under TLS, else the Authorization header. */
  private as(sae: string): { headers: Record<string, string>; httpsAgent?: https.Agent } {
    if (this.tls === undefined) return { headers: { Authorization: sae } };
    let agent = this.agents.get(sae);
    if (agent === undefined) {
      const { cert, key } = this.tls.identity(sae);
      // No keep-alive: a one-shot CLI call must not hold sockets open.
      agent = new https.Agent({ keepAlive: false, ca: this.tls.ca, cert, key, minVersion: "TLSv1.2" });
      this.agents.set(sae, agent);
    }
    return { headers: {}, httpsAgent: agent };
  }

  private async call(p: Promise<{ status: number; data: unknown }>): Promise<EtsiResponse> {
    const res = await p;
    return { status: res.status, body: res.data };
  }

  /**
   * Is the KME reachable? The open `health` route (no signature, no key drawn), called as `sae`
   * (its certificate under TLS). Every HTTP answer counts as reachable (a reference KME has no such
   * route); a connection failure throws.
   */
  async reachable(kme: NodeSpec, sae: string): Promise<void> {
    await (await this.http()).get(`${nodeBaseUrl(kme, this.tls !== undefined)}/health`, { ...this.as(sae), timeout: 5000 });
  }

  /** GET status on the master's KME, as the master SAE. */
  async status(masterKme: NodeSpec, master: string, slave: string): Promise<EtsiResponse> {
    return this.call((await this.http()).get(this.keysUrl(masterKme, slave, "status"), this.as(master)));
  }

  /**
   * Get key on the master's KME, as the master SAE: GET with query parameters for the simple
   * form, POST with a JSON body when multicast is requested.
   */
  async getKey(masterKme: NodeSpec, master: string, slave: string, opts: GetKeyOptions = {}): Promise<EtsiResponse> {
    const url = this.keysUrl(masterKme, slave, "enc_keys");
    const who = this.as(master);
    if (opts.additionalSlaveSaeIds && opts.additionalSlaveSaeIds.length > 0) {
      const body: Record<string, unknown> = { additional_slave_SAE_IDs: opts.additionalSlaveSaeIds };
      if (opts.size !== undefined) body.size = opts.size;
      if (opts.number !== undefined) body.number = opts.number;
      return this.call((await this.http()).post(url, body, who));
    }
    const params: Record<string, string> = {};
    if (opts.size !== undefined) params.size = String(opts.size);
    if (opts.number !== undefined) params.number = String(opts.number);
    return this.call((await this.http()).get(url, { ...who, params }));
  }

  /** Get key with key IDs on the slave's KME, as the slave SAE (GET for one ID, POST for more). */
  async getKeyWithKeyIds(slaveKme: NodeSpec, master: string, slave: string, keyIds: readonly string[]): Promise<EtsiResponse> {
    const url = this.keysUrl(slaveKme, master, "dec_keys");
    const who = this.as(slave);
    if (keyIds.length === 1) {
      return this.call((await this.http()).get(url, { ...who, params: { key_ID: keyIds[0] } }));
    }
    return this.call((await this.http()).post(url, { key_IDs: keyIds.map((key_ID) => ({ key_ID })) }, who));
  }
}

export interface KeyMismatch {
  readonly keyId: string;
  readonly problem: string;
}

/** Compare the master's and the slave's key containers: every key ID once on both sides, same values. */
export function compareKeys(master: readonly EtsiKey[], slave: readonly EtsiKey[]): KeyMismatch[] {
  const problems: KeyMismatch[] = [];
  const slaveById = new Map(slave.map((k) => [k.key_ID, k]));
  for (const m of master) {
    const s = slaveById.get(m.key_ID);
    if (s === undefined) problems.push({ keyId: m.key_ID, problem: "missing from the slave's keys" });
    else if (s.key !== m.key) problems.push({ keyId: m.key_ID, problem: `master key ${m.key} != slave key ${s.key}` });
    slaveById.delete(m.key_ID);
  }
  for (const id of slaveById.keys()) problems.push({ keyId: id, problem: "returned to the slave but not to the master" });
  return problems;
}
