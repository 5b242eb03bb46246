/**
 * EtsiApi: a typed ETSI GS QKD 014 client for one SAE talking to one KME (used by dske-cli and
 * tests). Over plain HTTP the identity is sent as `Authorization: <saeId>` (as the reference does;
 * not authenticated). For an `https://` base URL give `tls: {ca, cert, key}`: the SAE's client
 * certificate (CN = SAE ID) authenticates it, and the KME's certificate is checked against `ca`.
 *
 * `baseUrl` is everything before `/api/v1/keys`: `http://127.0.0.1:8105` for the standard root,
 * or `http://127.0.0.1:8105/client/carol/etsi` for the per-client prefix.
 *
 * Every response is validated with the schemas of etsi.ts; failures throw `EtsiApiError`
 * (`status` 0 when there was no HTTP response).
 */
import http from "node:http";
import https from "node:https";
import axios, { AxiosError, type AxiosInstance } from "axios";
import type { z } from "zod";
import {
  ErrorSchema,
  KeyContainerSchema,
  StatusSchema,
  type EtsiStatus,
  type KeyContainer,
  type KeyRequest,
} from "./etsi.js";

export class EtsiApiError extends Error {
  override readonly name = "EtsiApiError";
  constructor(
    /** HTTP status, 0 when no response. */
    readonly status: number,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

export interface EtsiApiOptions {
  /** Request timeout in ms (default 30,000). */
  timeoutMs?: number;
  /** Mutual TLS material (PEM) for an `https://` base URL: CA of the KME, the SAE's certificate and key. */
  tls?: EtsiTlsOptions;
}

export interface EtsiTlsOptions {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

export class EtsiApi {
  readonly baseUrl: string;
  private readonly http: AxiosInstance;
  private readonly agent: http.Agent;

  constructor(
    baseUrl: string,
    readonly saeId: string,
    options: EtsiApiOptions = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const t = options.tls;
    this.agent = t
      ? new https.Agent({ keepAlive: true, ca: t.ca, cert: t.cert, key: t.key, minVersion: "TLSv1.2" })
      : new http.Agent({ keepAlive: true });
    this.http = axios.create({
      baseURL: `${this.baseUrl}/api/v1/keys`,
      timeout: options.timeoutMs ?? 30_000,
      httpAgent: this.agent,
      httpsAgent: this.agent,
      proxy: false,
      headers: { Authorization: saeId, Accept: "application/json" },
      validateStatus: () => true,
    });
  }

  /** Get status (master SAE → its KME) for the link to `slaveSae`. */
  getStatus(slaveSae: string): Promise<EtsiStatus> {
    return this.call(StatusSchema, "GET", `/${encodeURIComponent(slaveSae)}/status`);
  }

  /** Get key, simple GET form (`number`, `size` only). */
  getKey(slaveSae: string, params: { number?: number; size?: number } = {}): Promise<KeyContainer> {
    const query: Record<string, string> = {};
    if (params.number !== undefined) query.number = String(params.number);
    if (params.size !== undefined) query.size = String(params.size);
    return this.call(KeyContainerSchema, "GET", `/${encodeURIComponent(slaveSae)}/enc_keys`, undefined, query);
  }

  /** Get key, POST form (full key request: multicast, extensions). */
  getKeys(slaveSae: string, request: KeyRequest = {}): Promise<KeyContainer> {
    return this.call(KeyContainerSchema, "POST", `/${encodeURIComponent(slaveSae)}/enc_keys`, request);
  }

  /** Get key with key IDs, simple GET form (one key ID). */
  getKeyWithKeyId(masterSae: string, keyId: string): Promise<KeyContainer> {
    return this.call(KeyContainerSchema, "GET", `/${encodeURIComponent(masterSae)}/dec_keys`, undefined, { key_ID: keyId });
  }

  /** Get key with key IDs, POST form. */
  getKeysWithKeyIds(masterSae: string, keyIds: readonly string[]): Promise<KeyContainer> {
    return this.call(KeyContainerSchema, "POST", `/${encodeURIComponent(masterSae)}/dec_keys`, {
      key_IDs: keyIds.map((key_ID) => ({ key_ID })),
    });
  }

  /** Close keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private async call<S extends z.ZodType>(
    schema: S,
    method: "GET" | "POST",
    url: string,
    data?: unknown,
    params?: Record<string, string>,
  ): Promise<z.output<S>> {
    let status: number;
    let body: unknown;
    try {
      const res = await this.http.request({ method, url, data, params });
      status = res.status;
      body = res.data;
    } catch (err) {
      const msg = err instanceof AxiosError ? (err.code ?? err.message) : String(err);
      throw new EtsiApiError(0, `KME unreachable at ${this.baseUrl}: ${msg}`);
    }
    if (status !== 200) {
      const e = ErrorSchema.safeParse(body);
      throw new EtsiApiError(status, e.success ? e.data.message : `KME answered HTTP ${status}`, e.success ? e.data.details : undefined);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new EtsiApiError(0, `invalid response from KME: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    return parsed.data;
  }
}
