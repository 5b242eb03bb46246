/**
 * EtsiApi: a typed ETSI GS QKD 014 client for one SAE talking to one KME (used by dske-cli,
 * examples and tests). Over plain HTTP the identity is sent as `Authorization: <saeId>` (as the
 * reference does; not authenticated). For an `https://` base URL give `tls: {ca, cert, key}`: the
 * SAE's client certificate (CN = SAE ID) authenticates it, and the KME's certificate is checked
 * against `ca`.
 *
 * `baseUrl` is everything before `/api/v1/keys`: `http://127.0.0.1:8105` for the standard root,
 * or `http://127.0.0.1:8105/client/carol/etsi` for the per-client prefix.
 *
 * Transport: node:http / node:https with a keep-alive agent (as `HubApi`). Every response is
 * validated with the `Received*` schemas of etsi.ts (the standard, and the reference KME's
 * answers: `keys` as one object, lower-case status fields), returned in the standard form;
 * failures throw `EtsiApiError` (`status` 0 when there was no HTTP response or the body is not a
 * valid answer).
 */
import http from "node:http";
import https from "node:https";
import type { z } from "zod";
import {
  ErrorSchema,
  ReceivedKeyContainerSchema,
  ReceivedStatusSchema,
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

/** Largest response body accepted (bytes): 1000 keys of 64 Kibit in base64 fit well below. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class EtsiApi {
  readonly baseUrl: string;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;

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
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Get status (master SAE → its KME) for the link to `slaveSae`. */
  getStatus(slaveSae: string): Promise<EtsiStatus> {
    return this.call(ReceivedStatusSchema, "GET", `/${encodeURIComponent(slaveSae)}/status`);
  }

  /** Get key, simple GET form (`number`, `size` only). */
  getKey(slaveSae: string, params: { number?: number; size?: number } = {}): Promise<KeyContainer> {
    const query: Record<string, string> = {};
    if (params.number !== undefined) query.number = String(params.number);
    if (params.size !== undefined) query.size = String(params.size);
    return this.call(ReceivedKeyContainerSchema, "GET", `/${encodeURIComponent(slaveSae)}/enc_keys`, undefined, query);
  }

  /** Get key, POST form (full key request: multicast, extensions). */
  getKeys(slaveSae: string, request: KeyRequest = {}): Promise<KeyContainer> {
    return this.call(ReceivedKeyContainerSchema, "POST", `/${encodeURIComponent(slaveSae)}/enc_keys`, request);
  }

  /** Get key with key IDs, simple GET form (one key ID). */
  getKeyWithKeyId(masterSae: string, keyId: string): Promise<KeyContainer> {
    return this.call(ReceivedKeyContainerSchema, "GET", `/${encodeURIComponent(masterSae)}/dec_keys`, undefined, { key_ID: keyId });
  }

  /** Get key with key IDs, POST form. */
  getKeysWithKeyIds(masterSae: string, keyIds: readonly string[]): Promise<KeyContainer> {
    return this.call(ReceivedKeyContainerSchema, "POST", `/${encodeURIComponent(masterSae)}/dec_keys`, {
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
    path: string,
    data?: unknown,
    params?: Record<string, string>,
  ): Promise<z.output<S>> {
    const url = new URL(`${this.baseUrl}/api/v1/keys${path}`);
    if (params) for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
    let res: { status: number; body: unknown };
    try {
      res = await this.send(url, method, data);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new EtsiApiError(0, `KME unreachable at ${this.baseUrl}: ${code ?? (err instanceof Error ? err.message : String(err))}`);
    }
    const { status, body } = res;
    if (status !== 200) {
      const e = ErrorSchema.safeParse(body);
      throw new EtsiApiError(status, e.success ? e.data.message : `KME answered HTTP ${status}`, e.success ? e.data.details : undefined);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new EtsiApiError(
        0,
        `invalid response from KME: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    return parsed.data;
  }

  /** One exchange: the status and the body (JSON when it parses, else the text). Rejects with a coded error. */
  private send(url: URL, method: string, data: unknown): Promise<{ status: number; body: unknown }> {
    const body = data === undefined ? undefined : Buffer.from(JSON.stringify(data), "utf8");
    const headers: Record<string, string | number> = { Authorization: this.saeId, Accept: "application/json" };
    if (body) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    const tls = url.protocol === "https:";
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const req = (tls ? https : http).request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            fail(Object.assign(new Error(`KME response larger than ${MAX_RESPONSE_BYTES} bytes`), { code: "ERR_RESPONSE_TOO_LARGE" }));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, body: decode(Buffer.concat(chunks, size).toString("utf8")) });
        });
        res.on("error", fail);
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy();
        // The code axios gave a timeout, kept for callers matching on the message.
        fail(Object.assign(new Error(`timeout of ${this.timeoutMs}ms exceeded`), { code: "ECONNABORTED" }));
      });
      req.on("error", fail);
      req.end(body);
    });
  }
}

function decode(text: string): unknown {
  if (text.length === 0) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
