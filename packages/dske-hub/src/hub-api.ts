/**
 * HubApi: the typed HTTP client of one hub, used by DSKE clients (and tests).
 *
 * - Out-of-band calls (registration, PSRD) and management calls are plain, unsigned HTTP.
 * - In-band calls (`/dske/api/...`) go through an inner axios instance on which @dske/auth's
 *   signature interceptors are installed when `options.auth` is given: the request is signed from
 *   the caller's local pool and the response signature is verified from the peer pool before the
 *   body is returned.
 * - Every response body is validated with the zod schemas of `wire.ts`.
 * - Every failure is a `HubApiError { status, message, details, code }`: `status` is the HTTP
 *   status, or 0 when there was no usable HTTP response (connection refused, timeout, invalid
 *   response signature, malformed response body) — then `code` says which.
 */
import http from "node:http";
import https from "node:https";
import axios, { AxiosError, type AxiosInstance, type InternalAxiosRequestConfig } from "axios";
import type { z } from "zod";
import { SignatureError, installSignatureInterceptors, type PeerAuth } from "@dske/auth";
import {
  ErrorBodySchema,
  FetchKeySharesResponseSchema,
  GetKeyShareResponseSchema,
  HubStatusSchema,
  PostKeyShareResponseSchema,
  PostKeySharesResponseSchema,
  PsrdResponseSchema,
  RegistrationResponseSchema,
  StopResponseSchema,
  UnregistrationResponseSchema,
  type FetchKeySharesRequest,
  type FetchKeySharesResponse,
  type GetKeyShareQuery,
  type GetKeyShareResponse,
  type HubStatus,
  type PoolOwnerWire,
  type PostKeyShareRequest,
  type PostKeyShareResponse,
  type PostKeySharesRequest,
  type PostKeySharesResponse,
  type RegistrationRequest,
  type RegistrationResponse,
  type StopResponse,
  type UnregistrationResponse,
} from "./wire.js";

/** Error codes of HubApiError when there is no usable HTTP response (status 0) or the body is bad. */
export type HubApiErrorCode =
  | "http" // an HTTP error status with a body (see status, message, details)
  | "network" // no response: connection refused/reset, DNS, ...
  | "timeout"
  | "signature" // the response signature did not verify, or the request could not be signed
  | "psrd_exhausted" // the caller's local pool cannot supply the request's signing key
  | "invalid_response"; // 2xx with a body that does not match the wire schema

export class HubApiError extends Error {
  override readonly name = "HubApiError";
  constructor(
    /** HTTP status, or 0 when there was no usable HTTP response. */
    readonly status: number,
    message: string,
    readonly details: unknown[] | undefined,
    readonly code: HubApiErrorCode,
  ) {
    super(message);
  }
}

export interface HubApiOptions {
  /** Install @dske/auth signature interceptors on the in-band instance. */
  auth?: {
    resolvePeer: (config: InternalAxiosRequestConfig) => PeerAuth | Promise<PeerAuth>;
  };
  /** Per-request timeout in ms (default 10,000). */
  timeoutMs?: number;
  /** Max concurrent sockets to this hub (default 64; keep-alive is on). */
  maxSockets?: number;
}

export interface PsrdBlock {
  block_uuid: string;
  /** The block bytes (the caller's to zero after adding them to its pool). */
  data: Uint8Array;
}

export class HubApi {
  /** The hub base URL without trailing slash, e.g. `http://127.0.0.1:8100/hub/hank`. */
  readonly baseUrl: string;
  private readonly plain: AxiosInstance;
  private readonly signed: AxiosInstance;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(baseUrl: string, options: HubApiOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError(`HubApi: invalid hub base URL ${JSON.stringify(baseUrl)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`HubApi: hub base URL must be http(s), got ${JSON.stringify(baseUrl)}`);
    }
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const maxSockets = options.maxSockets ?? 64;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
    const common = {
      baseURL: this.baseUrl,
      timeout: options.timeoutMs ?? 10_000,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: false as const,
      // Hubs never redirect; skipping follow-redirects saves CPU per call.
      maxRedirects: 0,
      headers: { Accept: "application/json" },
    };
    this.plain = axios.create(common);
    this.signed = axios.create(common);
    if (options.auth) {
      installSignatureInterceptors(this.signed, { resolvePeer: options.auth.resolvePeer });
    }
  }

  // ------------------------------------------------------------------ out of band

  /** PUT registration (idempotent). */
  async register(request: RegistrationRequest): Promise<RegistrationResponse> {
    return this.call(this.plain, RegistrationResponseSchema, {
      method: "PUT",
      url: "/dske/oob/v1/registration",
      data: request,
    });
  }

  /** DELETE registration: the hub zeroes and deletes the client's pools and shares. */
  async unregister(clientName: string): Promise<UnregistrationResponse> {
    return this.call(this.plain, UnregistrationResponseSchema, {
      method: "DELETE",
      url: "/dske/oob/v1/registration",
      params: { client_name: clientName },
    });
  }

  /** GET a fresh PSRD block; `data` is decoded from base64. */
  async getPsrd(query: { client_name: string; pool_owner: PoolOwnerWire; size: number }): Promise<PsrdBlock> {
    const body = await this.call(this.plain, PsrdResponseSchema, {
      method: "GET",
      url: "/dske/oob/v1/psrd",
      params: { client_name: query.client_name, pool_owner: query.pool_owner, size: query.size },
    });
    const data = new Uint8Array(Buffer.from(body.data, "base64"));
    if (data.length !== query.size) {
      data.fill(0);
      throw new HubApiError(0, `hub returned a PSRD block of ${data.length} bytes, asked for ${query.size}`, undefined, "invalid_response");
    }
    return { block_uuid: body.block_uuid, data };
  }

  // ------------------------------------------------------------------ in band (signed)

  async postKeyShare(body: PostKeyShareRequest): Promise<PostKeyShareResponse> {
    return this.call(this.signed, PostKeyShareResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-share",
      data: body,
    });
  }

  async getKeyShare(query: GetKeyShareQuery): Promise<GetKeyShareResponse> {
    return this.call(this.signed, GetKeyShareResponseSchema, {
      method: "GET",
      url: "/dske/api/v1/key-share",
      params: {
        client_name: query.client_name,
        master_sae_id: query.master_sae_id,
        slave_sae_id: query.slave_sae_id,
        key_id: query.key_id,
      },
    });
  }

  /** Batch extension: post many shares in one signed message (see wire.ts). */
  async postKeyShares(body: PostKeySharesRequest): Promise<PostKeySharesResponse> {
    return this.call(this.signed, PostKeySharesResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-shares",
      data: body,
    });
  }

  /** Batch extension: fetch many shares in one signed message (see wire.ts). */
  async getKeyShares(body: FetchKeySharesRequest): Promise<FetchKeySharesResponse> {
    return this.call(this.signed, FetchKeySharesResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-shares/fetch",
      data: body,
    });
  }

  /** Alias of getKeyShares. */
  async fetchKeyShares(body: FetchKeySharesRequest): Promise<FetchKeySharesResponse> {
    return this.getKeyShares(body);
  }

  // ------------------------------------------------------------------ management

  async status(): Promise<HubStatus> {
    return this.call(this.plain, HubStatusSchema, { method: "GET", url: "/mgmt/v1/status" });
  }

  async stop(): Promise<StopResponse> {
    return this.call(this.plain, StopResponseSchema, { method: "POST", url: "/mgmt/v1/stop", data: {} });
  }

  /** Close idle keep-alive sockets (call when done with this hub). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ------------------------------------------------------------------ plumbing

  private async call<S extends z.ZodType>(
    instance: AxiosInstance,
    schema: S,
    config: { method: string; url: string; data?: unknown; params?: Record<string, unknown> },
  ): Promise<z.output<S>> {
    let responseData: unknown;
    try {
      const response = await instance.request(config);
      responseData = response.data;
    } catch (err) {
      throw toHubApiError(err);
    }
    const parsed = schema.safeParse(decodeBody(responseData));
    if (!parsed.success) {
      throw new HubApiError(
        0,
        `invalid response from hub for ${config.method} ${config.url}`,
        parsed.error.issues,
        "invalid_response",
      );
    }
    return parsed.data;
  }
}

/** Bodies may arrive parsed (default axios) or raw (when the signature interceptor keeps raw bytes). */
function decodeBody(data: unknown): unknown {
  if (typeof data === "string") {
    if (data.length === 0) return {};
    try {
      return JSON.parse(data) as unknown;
    } catch {
      return data;
    }
  }
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
    const text = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString("utf8");
    return decodeBody(text);
  }
  return data;
}

export function toHubApiError(err: unknown): HubApiError {
  if (err instanceof HubApiError) return err;
  if (isSignatureError(err)) {
    // An error response without a valid signature (e.g. the hub's 401 "unknown sender" before it
    // could resolve the peer): keep the HTTP status and the (unauthenticated) message for diagnosis.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof AxiosError && cause.response) {
      const body = ErrorBodySchema.safeParse(decodeBody(cause.response.data));
      const hubMessage = body.success ? `: ${body.data.message}` : "";
      return new HubApiError(
        cause.response.status,
        `unauthenticated hub response (HTTP ${cause.response.status})${hubMessage} [${(err as Error).message}]`,
        body.success ? body.data.details : undefined,
        "signature",
      );
    }
    const exhausted = (err as { code?: unknown }).code === "psrd_exhausted";
    return new HubApiError(
      0,
      `${exhausted ? "cannot sign the request" : "response signature"}: ${(err as Error).message}`,
      signatureDetails(err),
      exhausted ? "psrd_exhausted" : "signature",
    );
  }
  if (err instanceof AxiosError) {
    if (err.response) {
      const body = ErrorBodySchema.safeParse(decodeBody(err.response.data));
      const message = body.success ? body.data.message : `hub answered HTTP ${err.response.status}`;
      return new HubApiError(err.response.status, message, body.success ? body.data.details : undefined, "http");
    }
    if (err.code === "ECONNABORTED" || err.code === "ETIMEDOUT") {
      return new HubApiError(0, `hub request timed out: ${err.message}`, undefined, "timeout");
    }
    return new HubApiError(0, `hub unreachable: ${err.code ?? err.message}`, undefined, "network");
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HubApiError(0, message, undefined, "network");
}

function signatureDetails(err: unknown): unknown[] | undefined {
  const d = (err as { details?: unknown }).details;
  const code = (err as { code?: unknown }).code;
  return Array.isArray(d) ? [{ code }, ...d.map((x: unknown) => ({ reason: x }))] : undefined;
}

function isSignatureError(err: unknown): boolean {
  return err instanceof SignatureError || (err instanceof Error && err.name === "SignatureError");
}
