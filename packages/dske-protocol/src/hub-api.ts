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
import { SignatureError, installSignatureInterceptors, signRequest, verifyResponse, type PeerAuth } from "@dske/auth";
import {
  ErrorBodySchema,
  FetchKeySharesResponseSchema,
  GetKeyShareResponseSchema,
  HubStatusSchema,
  IssueBundleResponseSchema,
  PsrdConfirmResponseSchema,
  PostKeyShareResponseSchema,
  PostKeySharesResponseSchema,
  PsrdResponseSchema,
  RegistrationResponseSchema,
  ShareMetaResponseSchema,
  SharesHeldResponseSchema,
  StopResponseSchema,
  UnregistrationResponseSchema,
  type FetchKeySharesRequest,
  type FetchKeySharesResponse,
  type GetKeyShareQuery,
  type GetKeyShareResponse,
  type HubStatus,
  type IssueBundleRequest,
  type IssueBundleResponse,
  type PsrdConfirmRequest,
  type PsrdConfirmResponse,
  type PoolOwnerWire,
  type PostKeyShareRequest,
  type PostKeyShareResponse,
  type PostKeySharesRequest,
  type PostKeySharesResponse,
  type RegistrationRequest,
  type RegistrationResponse,
  type ShareMetaRequest,
  type ShareMetaResponse,
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
  /**
   * HTTP client of the signed in-band calls (default "node"): "node" = node:http with a keep-alive
   * agent and Nagle off, signing through @dske/auth's transport-agnostic signRequest/verifyResponse
   * (about half the CPU per call of axios, see README); "axios" = the axios instance with the
   * @dske/auth interceptors. Out-of-band and management calls always use axios.
   */
  transport?: "node" | "axios";
  /**
   * Called when a keep-alive connection of the in-band transport to the hub closes without this
   * HubApi closing it: the hub stopped, crashed or restarted (its kernel closes the sockets), or
   * dropped an idle connection. A cheap liveness hint: the caller may stop trusting the hub
   * until its next successful exchange.
   */
  onConnectionLost?: () => void;
  /** Sent as `Authorization: Bearer <token>` on out-of-band and management calls (operator, or a client's enrollment secret). */
  bearerToken?: string;
  /** The operator token, sent as `Authorization: Bearer <token>` on the management calls (status, stop). */
  operatorToken?: string;
}

/** Options of one signed in-band call. */
export interface SignedCallOptions {
  /**
   * Defer the consumption commit of the response signature's PSRD: the call resolves as soon as
   * the signature verified and hands the pending commit to this callback; the caller MUST await
   * it before anything derived from the response leaves the process. Lets the caller consume the
   * pads named in the response in the same turn, so both share one journal commit.
   * (Only with transport "node"; otherwise the commit is awaited and an already settled promise
   * is passed.)
   */
  onVerified?: (committed: Promise<void>) => void;
}

/** Largest in-band response body accepted (bytes). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** Requests made by HubApi instances of this process (diagnostics, benchmarks). */
export const hubApiStats = { requests: 0 };

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
  private readonly timeoutMs: number;
  private readonly lean: boolean;
  private readonly resolvePeer: ((config: InternalAxiosRequestConfig) => PeerAuth | Promise<PeerAuth>) | undefined;
  /** Requests made by this instance (diagnostics). */
  requests = 0;
  private readonly onConnectionLost: (() => void) | undefined;
  private readonly operatorToken: string | undefined;
  /** Sockets whose close is watched (onConnectionLost). */
  private readonly watched = new WeakSet<object>();
  private closing = false;

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
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, noDelay: true });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, noDelay: true });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.onConnectionLost = options.onConnectionLost;
    this.operatorToken = options.operatorToken;
    this.resolvePeer = options.auth?.resolvePeer;
    this.lean = (options.transport ?? "node") === "node" && this.resolvePeer !== undefined;
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
    this.plain = axios.create(
      options.bearerToken === undefined ? common : { ...common, headers: { ...common.headers, Authorization: `Bearer ${options.bearerToken}` } },
    );
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

  /**
   * PUT registration signed with the caller's PSRD (what dske clients do once they installed their
   * first bundle): the signature proves who registers, and the hub's signed answer who answered.
   */
  async registerSigned(request: RegistrationRequest): Promise<RegistrationResponse> {
    if (this.lean) return this.leanCall(RegistrationResponseSchema, "PUT", "/dske/oob/v1/registration", undefined, request, undefined);
    return this.call(this.signed, RegistrationResponseSchema, { method: "PUT", url: "/dske/oob/v1/registration", data: request });
  }

  /** DELETE registration signed by the client itself. */
  async unregisterSigned(clientName: string): Promise<UnregistrationResponse> {
    if (this.lean) return this.leanCall(UnregistrationResponseSchema, "DELETE", "/dske/oob/v1/registration", { client_name: clientName }, undefined, undefined);
    return this.call(this.signed, UnregistrationResponseSchema, { method: "DELETE", url: "/dske/oob/v1/registration", params: { client_name: clientName } });
  }

  /** Confirm received PSRD blocks (signed): the hub starts using them. */
  async confirmPsrd(body: PsrdConfirmRequest): Promise<PsrdConfirmResponse> {
    if (this.lean) return this.leanCall(PsrdConfirmResponseSchema, "POST", "/dske/api/v1/psrd-confirm", undefined, body, undefined);
    return this.call(this.signed, PsrdConfirmResponseSchema, { method: "POST", url: "/dske/api/v1/psrd-confirm", data: body });
  }

  /** Management (operator credential): issue a PSRD bundle into the hub's outbox. */
  async issueBundle(body: IssueBundleRequest): Promise<IssueBundleResponse> {
    return this.call(this.plain, IssueBundleResponseSchema, { method: "POST", url: "/mgmt/v1/psrd-bundles", data: body, headers: this.operatorHeaders() });
  }

  /** DELETE registration: the hub zeroes and deletes the client's pools and shares. */
  async unregister(clientName: string): Promise<UnregistrationResponse> {
    return this.call(this.plain, UnregistrationResponseSchema, {
      method: "DELETE",
      url: "/dske/oob/v1/registration",
      params: { client_name: clientName },
      // Writes on out-of-band routes must declare JSON (the hub refuses others: cross-site defence).
      headers: { "Content-Type": "application/json" },
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

  async postKeyShare(body: PostKeyShareRequest, options?: SignedCallOptions): Promise<PostKeyShareResponse> {
    if (this.lean) return this.leanCall(PostKeyShareResponseSchema, "POST", "/dske/api/v1/key-share", undefined, body, options);
    return this.call(this.signed, PostKeyShareResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-share",
      data: body,
    });
  }

  async getKeyShare(query: GetKeyShareQuery, options?: SignedCallOptions): Promise<GetKeyShareResponse> {
    const params = {
      client_name: query.client_name,
      master_sae_id: query.master_sae_id,
      slave_sae_id: query.slave_sae_id,
      key_id: query.key_id,
    };
    if (this.lean) return this.leanCall(GetKeyShareResponseSchema, "GET", "/dske/api/v1/key-share", params, undefined, options);
    return this.call(this.signed, GetKeyShareResponseSchema, {
      method: "GET",
      url: "/dske/api/v1/key-share",
      params,
    });
  }

  /** Batch extension: post many shares in one signed message (see wire.ts). */
  async postKeyShares(body: PostKeySharesRequest, options?: SignedCallOptions): Promise<PostKeySharesResponse> {
    if (this.lean) return this.leanCall(PostKeySharesResponseSchema, "POST", "/dske/api/v1/key-shares", undefined, body, options);
    return this.call(this.signed, PostKeySharesResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-shares",
      data: body,
    });
  }

  /** Batch extension: fetch many shares in one signed message (see wire.ts). */
  async getKeyShares(body: FetchKeySharesRequest, options?: SignedCallOptions): Promise<FetchKeySharesResponse> {
    if (this.lean) return this.leanCall(FetchKeySharesResponseSchema, "POST", "/dske/api/v1/key-shares/fetch", undefined, body, options);
    return this.call(this.signed, FetchKeySharesResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-shares/fetch",
      data: body,
    });
  }

  /** Share metadata (never values) of these key IDs, for shares the calling client hosts an intended slave SAE of (see wire.ts). */
  async shareMeta(body: ShareMetaRequest, options?: SignedCallOptions): Promise<ShareMetaResponse> {
    if (this.lean) return this.leanCall(ShareMetaResponseSchema, "POST", "/dske/api/v1/key-shares/meta", undefined, body, options);
    return this.call(this.signed, ShareMetaResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-shares/meta",
      data: body,
    });
  }

  /** Which of these key IDs the hub holds a live share of (unsigned, costs no PSRD; see wire.ts). */
  async sharesHeld(keyIds: readonly string[]): Promise<string[]> {
    const body = await this.call(this.plain, SharesHeldResponseSchema, {
      method: "POST",
      url: "/dske/api/v1/key-shares/held",
      data: { key_ids: keyIds },
    });
    return body.held;
  }

  /** Alias of getKeyShares. */
  async fetchKeyShares(body: FetchKeySharesRequest, options?: SignedCallOptions): Promise<FetchKeySharesResponse> {
    return this.getKeyShares(body, options);
  }

  // ------------------------------------------------------------------ management

  /** Management (operator token, see HubApiOptions.operatorToken): the hub's status. */
  async status(): Promise<HubStatus> {
    return this.call(this.plain, HubStatusSchema, { method: "GET", url: "/mgmt/v1/status", headers: this.operatorHeaders() });
  }

  /** Management (operator token): stop the hub. */
  async stop(): Promise<StopResponse> {
    return this.call(this.plain, StopResponseSchema, { method: "POST", url: "/mgmt/v1/stop", data: {}, headers: this.operatorHeaders() });
  }

  private operatorHeaders(): Record<string, string> {
    return this.operatorToken !== undefined ? { Authorization: `Bearer ${this.operatorToken}` } : {};
  }

  /** Close idle keep-alive sockets (call when done with this hub). */
  close(): void {
    this.closing = true;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ------------------------------------------------------------------ plumbing

  private async call<S extends z.ZodType>(
    instance: AxiosInstance,
    schema: S,
    config: { method: string; url: string; data?: unknown; params?: Record<string, unknown>; headers?: Record<string, string> },
  ): Promise<z.output<S>> {
    let responseData: unknown;
    this.requests++;
    hubApiStats.requests++;
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

  /**
   * A signed in-band call over node:http (transport "node"): serialize once, sign the exact bytes,
   * send with a keep-alive agent, read the raw body, verify the response signature (for any
   * status under gf128; v1 hmac-sha256 error responses are unsigned), then decode and validate.
   * Errors are the same HubApiErrors as the axios path gives.
   */
  private async leanCall<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    params: Record<string, string> | undefined,
    data: unknown,
    options: SignedCallOptions | undefined,
  ): Promise<z.output<S>> {
    this.requests++;
    hubApiStats.requests++;
    const url = new URL(this.baseUrl + path);
    if (params) for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
    const query = url.search.startsWith("?") ? url.search.slice(1) : "";
    const body = data === undefined ? EMPTY : Buffer.from(JSON.stringify(data), "utf8");
    let peer: PeerAuth;
    let signed: { header: string; requestTag: Uint8Array };
    try {
      // why: resolvePeer's public type takes the axios request config; callers only read url/method.
      peer = await this.resolvePeer!({ url: url.href, method: method.toLowerCase(), headers: {} } as unknown as InternalAxiosRequestConfig);
      signed = await signRequest(peer, { method, path: url.pathname, query, body });
    } catch (err) {
      throw toHubApiError(err);
    }
    const headers: Record<string, string | number> = { Accept: "application/json", "DSKE-Signature": signed.header };
    if (body.length > 0) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    const res = await this.send(url, method, headers, body).catch((err: unknown) => {
      // A keep-alive socket the hub closed just as we reused it (idle timeout): the hub never
      // saw the request, so the same signed bytes are sent once more on a fresh socket (a hub
      // that did see them refuses the replay: the MAC pad is consumed).
      if (err instanceof StaleSocketError) return this.send(url, method, headers, body);
      throw err;
    });
    const ok = res.status >= 200 && res.status < 300;
    const sig = res.signature;
    if (sig === undefined && peer.scheme === "hmac-sha256" && !ok) {
      throw httpError(res.status, res.body); // v1 (reference): error responses are unsigned
    }
    let committed: Promise<void>;
    try {
      ({ committed } = await verifyResponse(
        peer,
        { status: res.status, header: sig, body: res.body, requestTag: signed.requestTag, path: url.pathname },
        { deferCommit: ok && options?.onVerified !== undefined },
      ));
    } catch (err) {
      if (!isSignatureError(err)) throw toHubApiError(err);
      if (!ok) {
        const eb = ErrorBodySchema.safeParse(decodeBody(res.body));
        throw new HubApiError(
          res.status,
          `unauthenticated hub response (HTTP ${res.status})${eb.success ? `: ${eb.data.message}` : ""} [${(err as Error).message}]`,
          eb.success ? eb.data.details : undefined,
          "signature",
        );
      }
      throw new HubApiError(0, `response signature: ${(err as Error).message}`, signatureDetails(err), "signature");
    }
    if (!ok) throw httpError(res.status, res.body);
    options?.onVerified?.(committed);
    const parsed = schema.safeParse(decodeBody(res.body));
    if (!parsed.success) {
      throw new HubApiError(0, `invalid response from hub for ${method} ${path}`, parsed.error.issues, "invalid_response");
    }
    return parsed.data;
  }

  /** One HTTP exchange over the keep-alive agent: status, DSKE-Signature header and raw body. */
  private send(
    url: URL,
    method: string,
    headers: Record<string, string | number>,
    body: Buffer,
  ): Promise<{ status: number; signature: string | undefined; body: Buffer }> {
    const tls = url.protocol === "https:";
    return new Promise((resolve, reject) => {
      let settled = false;
      let gotResponse = false;
      const fail = (err: HubApiError) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const req = (tls ? https : http).request(
        url,
        { method, headers, agent: tls ? this.httpsAgent : this.httpAgent },
        (res) => {
          gotResponse = true;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy();
              fail(new HubApiError(0, `hub response larger than ${MAX_RESPONSE_BYTES} bytes`, undefined, "invalid_response"));
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            if (settled) return;
            settled = true;
            const h = res.headers["dske-signature"];
            resolve({
              status: res.statusCode ?? 0,
              signature: Array.isArray(h) ? h.join(", ") : h,
              body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
            });
          });
          res.on("error", (err: Error) => fail(new HubApiError(0, `hub unreachable: ${err.message}`, undefined, "network")));
        },
      );
      req.setNoDelay(true);
      const lost = this.onConnectionLost;
      if (lost) {
        req.on("socket", (socket) => {
          if (this.watched.has(socket)) return;
          this.watched.add(socket);
          socket.once("close", () => {
            if (!this.closing) lost();
          });
        });
      }
      req.setTimeout(this.timeoutMs, () => {
        req.destroy();
        fail(new HubApiError(0, `hub request timed out: timeout of ${this.timeoutMs}ms exceeded`, undefined, "timeout"));
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && err.code === "ECONNRESET" && !gotResponse) {
          if (!settled) {
            settled = true;
            reject(new StaleSocketError());
          }
          return;
        }
        fail(new HubApiError(0, `hub unreachable: ${err.code ?? err.message}`, undefined, "network"));
      });
      req.end(body.length > 0 ? body : undefined);
    });
  }
}

/** The request failed on a reused keep-alive socket before any response (see leanCall). */
class StaleSocketError extends Error {}

function httpError(status: number, body: Buffer): HubApiError {
  const eb = ErrorBodySchema.safeParse(decodeBody(body));
  return new HubApiError(status, eb.success ? eb.data.message : `hub answered HTTP ${status}`, eb.success ? eb.data.details : undefined, "http");
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
