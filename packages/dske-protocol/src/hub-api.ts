/**
 * HubApi: the typed HTTP client of one hub, used by DSKE clients (and tests).
 *
 * - One transport for every call (http-transport.ts): node:http with a keep-alive agent and
 *   Nagle off.
 * - Out-of-band calls (registration, PSRD) and management calls are unsigned; they carry the
 *   bearer token of the options (a client's enrollment secret, or the operator token).
 * - Signed calls (in band, and the signed registration) are signed with @dske/auth's
 *   transport-agnostic `signRequest` from the caller's local pool, and the response signature is
 *   verified with `verifyResponse` from the peer pool before the body is returned. Without
 *   `options.auth` they are sent unsigned (the hub refuses them: 401).
 * - Every response body is validated with the zod schemas of the wire (wire.ts). Where the
 *   reference hub returns nothing (POST key-share: its handler answers `null`), `null` and an
 *   empty body are accepted; a signed 2xx whose signature verified but whose body is unexpected is
 *   still a success for the calls whose answer carries nothing the caller needs (the share posts):
 *   `onUnexpectedResponse` is told (shape only, never values) and the call resolves.
 * - Every failure is a `HubApiError { status, message, details, code }` (hub-api-error.ts); an
 *   unexpected body after a verified signature is marked `authenticated` (no reason to register
 *   again: the hub knows us and the PSRD of both sides is in step).
 * - Every request carries the `traceparent` of the request being served, when there is one (trace-context.ts).
 * - Every request is counted on the instance (`requests`) and published on the diagnostics
 *   channel `dske:hub-api:request` (`HUB_API_REQUEST_CHANNEL`) for benchmarks and diagnostics.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type https from "node:https";
import { z } from "zod";
import { signRequest, verifyResponse, type PeerAuth } from "@dske/auth";
import { readVerified, validate, type Tolerated, type UnexpectedResponse } from "./hub-api-body.js";
import { HubApiError, httpError, isSignatureError, signatureDetails, toHubApiError, unauthenticatedError } from "./hub-api-error.js";
import { HttpTransport } from "./http-transport.js";
import { HubReplicas } from "./hub-replicas.js";
import { TRACEPARENT_HEADER, outgoingTraceparent } from "./trace-context.js";
import {
  FetchKeySharesResponseSchema,
  GetKeyShareResponseSchema,
  HubStatusSchema,
  IssueBundleResponseSchema,
  PsrdConfirmResponseSchema,
  PostKeyShareReceivedSchema,
  PostKeySharesResponseSchema,
  PsrdResponseSchema,
  RegistrationResponseSchema,
  ShareMetaResponseSchema,
  SharesHeldResponseSchema,
  StopReceivedSchema,
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
  type ReferenceGetKeyShareQuery,
  type ReferencePostKeyShareRequest,
  type RegistrationRequest,
  type RegistrationResponse,
  type ShareMetaRequest,
  type ShareMetaResponse,
  type StopResponse,
  type UnregistrationResponse,
} from "./wire.js";

/** Name of the diagnostics channel on which every HubApi request is published (`HubApiRequestMessage`). */
export const HUB_API_REQUEST_CHANNEL = "dske:hub-api:request";

/** Message of `HUB_API_REQUEST_CHANNEL`: one HTTP request about to be sent. */
export interface HubApiRequestMessage {
  /** The hub base URL of the HubApi. */
  readonly baseUrl: string;
  readonly method: string;
  /** Path relative to the base URL, e.g. `/dske/api/v1/key-shares`. */
  readonly path: string;
  /** Whether the request is signed with PSRD. */
  readonly signed: boolean;
}

const requestChannel = diagnosticsChannel.channel(HUB_API_REQUEST_CHANNEL);

/** The request a signing peer is resolved for (`HubApiOptions.auth.resolvePeer`). */
export interface HubRequestInfo {
  /** Upper-case HTTP method. */
  readonly method: string;
  /** Absolute URL, query included. */
  readonly url: string;
}

export interface HubApiOptions {
  /** Sign the in-band calls: the peer (local and peer pools, scheme) to sign a request with. */
  auth?: {
    resolvePeer: (request: HubRequestInfo) => PeerAuth | Promise<PeerAuth>;
  };
  /** Per-request timeout in ms (default 10,000). */
  timeoutMs?: number;
  /** Connect timeout in ms for a new connection (default: none beyond `timeoutMs`). */
  connectTimeoutMs?: number;
  /** Max concurrent sockets to this hub (default 64; keep-alive is on). */
  maxSockets?: number;
  /** TLS options of an `https:` hub (`ca`, `cert`, `key`, ...); default: the system CAs, no client certificate. */
  tls?: https.AgentOptions;
  /**
   * Called when a keep-alive connection to the hub closes without this HubApi closing it: the
   * hub stopped, crashed or restarted (its kernel closes the sockets), or dropped an idle
   * connection. A cheap liveness hint: the caller may stop trusting the hub until its next
   * successful exchange.
   */
  onConnectionLost?: () => void;
  /**
   * Base URLs of the other replicas of this hub (same path; hub-replicas.ts): calls fail over to
   * them when the active one cannot be reached or refuses with an unsigned 503.
   */
  replicaUrls?: readonly string[];
  /** Sent as `Authorization: Bearer <token>` on out-of-band and management calls (operator, or a client's enrollment secret). */
  bearerToken?: string;
  /** The operator token, sent as `Authorization: Bearer <token>` on the management calls (status, stop). */
  operatorToken?: string;
  /**
   * Told when a signed call succeeds although its verified response body was unexpected (see
   * UnexpectedResponse): the caller logs a warning. Never given key material.
   */
  onUnexpectedResponse?: (event: UnexpectedResponse) => void;
}

/** Options of one signed in-band call. */
export interface SignedCallOptions {
  /**
   * Defer the consumption commit of the response signature's PSRD: the call resolves as soon as
   * the signature verified and hands the pending commit to this callback; the caller MUST await
   * it before anything derived from the response leaves the process. Lets the caller consume the
   * pads named in the response in the same turn, so both share one journal commit.
   */
  onVerified?: (committed: Promise<void>) => void;
}

export interface PsrdBlock {
  block_uuid: string;
  /** The block bytes (the caller's to zero after adding them to its pool). */
  data: Uint8Array;
}

type Params = Record<string, string | number>;
const HubHealthSchema = z.object({ status: z.string() }).loose();
const EMPTY = Buffer.alloc(0);

export class HubApi {
  /** The hub base URL without trailing slash, e.g. `http://127.0.0.1:8100/hub/hank`. */
  readonly baseUrl: string;
  /** Requests made by this instance (diagnostics). */
  requests = 0;
  private readonly transport: HttpTransport;
  /** This hub's replicas (just `baseUrl` for a hub of one process). */
  readonly replicas: HubReplicas;
  private readonly resolvePeer: ((request: HubRequestInfo) => PeerAuth | Promise<PeerAuth>) | undefined;
  private readonly bearerToken: string | undefined;
  private readonly operatorToken: string | undefined;
  private readonly onUnexpectedResponse: ((event: UnexpectedResponse) => void) | undefined;

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
    this.replicas = new HubReplicas(this.baseUrl, options.replicaUrls);
    this.transport = new HttpTransport({
      timeoutMs: options.timeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs,
      maxSockets: options.maxSockets ?? 64,
      tls: options.tls,
      onConnectionLost: options.onConnectionLost,
    });
    this.resolvePeer = options.auth?.resolvePeer;
    this.bearerToken = options.bearerToken;
    this.operatorToken = options.operatorToken;
    this.onUnexpectedResponse = options.onUnexpectedResponse;
  }

  // ------------------------------------------------------------------ out of band

  /** PUT registration (idempotent). */
  async register(request: RegistrationRequest): Promise<RegistrationResponse> {
    return this.plainCall(RegistrationResponseSchema, "PUT", "/dske/oob/v1/registration", undefined, request);
  }

  /**
   * PUT registration signed with the caller's PSRD (what dske clients do once they installed their
   * first bundle): the signature proves who registers, and the hub's signed answer who answered.
   */
  async registerSigned(request: RegistrationRequest): Promise<RegistrationResponse> {
    return this.signedCall(RegistrationResponseSchema, "PUT", "/dske/oob/v1/registration", undefined, request, undefined);
  }

  /** DELETE registration signed by the client itself. */
  async unregisterSigned(clientName: string): Promise<UnregistrationResponse> {
    return this.signedCall(
      UnregistrationResponseSchema,
      "DELETE",
      "/dske/oob/v1/registration",
      { client_name: clientName },
      undefined,
      undefined,
    );
  }

  /** Confirm received PSRD blocks (signed): the hub starts using them. */
  async confirmPsrd(body: PsrdConfirmRequest): Promise<PsrdConfirmResponse> {
    return this.signedCall(PsrdConfirmResponseSchema, "POST", "/dske/api/v1/psrd-confirm", undefined, body, undefined);
  }

  /** Management (operator credential): issue a PSRD bundle into the hub's outbox. */
  async issueBundle(body: IssueBundleRequest): Promise<IssueBundleResponse> {
    return this.plainCall(IssueBundleResponseSchema, "POST", "/mgmt/v1/psrd-bundles", undefined, body, this.operatorHeaders());
  }

  /** DELETE registration: the hub zeroes and deletes the client's pools and shares. */
  async unregister(clientName: string): Promise<UnregistrationResponse> {
    // Writes on out-of-band routes must declare JSON (the hub refuses others: cross-site defence).
    return this.plainCall(UnregistrationResponseSchema, "DELETE", "/dske/oob/v1/registration", { client_name: clientName }, undefined, {
      "Content-Type": "application/json",
    });
  }

  /** GET a fresh PSRD block; `data` is decoded from base64. */
  async getPsrd(query: { client_name: string; pool_owner: PoolOwnerWire; size: number }): Promise<PsrdBlock> {
    const params = { client_name: query.client_name, pool_owner: query.pool_owner, size: query.size };
    const body = await this.plainCall(PsrdResponseSchema, "GET", "/dske/oob/v1/psrd", params, undefined);
    const data = new Uint8Array(Buffer.from(body.data, "base64"));
    if (data.length !== query.size) {
      data.fill(0);
      throw new HubApiError(0, `hub returned a PSRD block of ${data.length} bytes, asked for ${query.size}`, undefined, "invalid_response");
    }
    return { block_uuid: body.block_uuid, data };
  }

  // ------------------------------------------------------------------ in band (signed)

  /**
   * Resolves `{}` once the hub's signed 2xx verified: our hubs answer `{}`, the reference hub
   * `null`; another body is reported to `onUnexpectedResponse` and the share counts as stored.
   */
  async postKeyShare(body: PostKeyShareRequest, options?: SignedCallOptions): Promise<PostKeyShareResponse> {
    return this.signedCall(PostKeyShareReceivedSchema, "POST", "/dske/api/v1/key-share", undefined, body, options, {
      value: {},
      outcome: "share counted as stored",
    });
  }

  async getKeyShare(query: GetKeyShareQuery, options?: SignedCallOptions): Promise<GetKeyShareResponse> {
    const params = {
      client_name: query.client_name,
      master_sae_id: query.master_sae_id,
      slave_sae_id: query.slave_sae_id,
      key_id: query.key_id,
    };
    return this.signedCall(GetKeyShareResponseSchema, "GET", "/dske/api/v1/key-share", params, undefined, options);
  }

  /**
   * A share in the reference's v1 body (`client_name` of the master, no SAE IDs): what a
   * reference hub takes (it answers a signed `null`, read as `{}` like postKeyShare).
   */
  async postReferenceKeyShare(body: ReferencePostKeyShareRequest, options?: SignedCallOptions): Promise<PostKeyShareResponse> {
    return this.signedCall(PostKeyShareReceivedSchema, "POST", "/dske/api/v1/key-share", undefined, body, options, {
      value: {},
      outcome: "share counted as stored",
    });
  }

  /** A share asked for the reference's way: `client_name` and `key_id` only (a reference hub's query). */
  async getReferenceKeyShare(query: ReferenceGetKeyShareQuery, options?: SignedCallOptions): Promise<GetKeyShareResponse> {
    const params = { client_name: query.client_name, key_id: query.key_id };
    return this.signedCall(GetKeyShareResponseSchema, "GET", "/dske/api/v1/key-share", params, undefined, options);
  }

  /** Batch extension: post many shares in one signed message (see share.ts). */
  async postKeyShares(body: PostKeySharesRequest, options?: SignedCallOptions): Promise<PostKeySharesResponse> {
    // A verified 2xx stored the batch (all or nothing at the hub), even if its body is unexpected.
    return this.signedCall(PostKeySharesResponseSchema, "POST", "/dske/api/v1/key-shares", undefined, body, options, {
      value: { stored: body.shares.length },
      outcome: `all ${body.shares.length} shares counted as stored`,
    });
  }

  /** Batch extension: fetch many shares in one signed message (see share.ts). */
  async getKeyShares(body: FetchKeySharesRequest, options?: SignedCallOptions): Promise<FetchKeySharesResponse> {
    return this.signedCall(FetchKeySharesResponseSchema, "POST", "/dske/api/v1/key-shares/fetch", undefined, body, options);
  }

  /** Share metadata (never values) of these key IDs, for shares the calling client hosts an intended slave SAE of (see share.ts). */
  async shareMeta(body: ShareMetaRequest, options?: SignedCallOptions): Promise<ShareMetaResponse> {
    return this.signedCall(ShareMetaResponseSchema, "POST", "/dske/api/v1/key-shares/meta", undefined, body, options);
  }

  /** Which of these key IDs the hub holds a live share of (unsigned, costs no PSRD; see share.ts). */
  async sharesHeld(keyIds: readonly string[]): Promise<string[]> {
    const body = await this.plainCall(SharesHeldResponseSchema, "POST", "/dske/api/v1/key-shares/held", undefined, { key_ids: keyIds });
    return body.held;
  }

  /** Alias of getKeyShares. */
  async fetchKeyShares(body: FetchKeySharesRequest, options?: SignedCallOptions): Promise<FetchKeySharesResponse> {
    return this.getKeyShares(body, options);
  }

  // ------------------------------------------------------------------ management

  /** Management (operator token, see HubApiOptions.operatorToken): the hub's status. */
  async status(): Promise<HubStatus> {
    return this.plainCall(HubStatusSchema, "GET", "/mgmt/v1/status", undefined, undefined, this.operatorHeaders());
  }

  /** Management (operator token): stop the hub (`{message}`; the reference's `{result}` is read as the message). */
  async stop(): Promise<StopResponse> {
    return this.plainCall(StopReceivedSchema, "POST", "/mgmt/v1/stop", undefined, {}, this.operatorHeaders());
  }

  /**
   * `GET health` (open, no credential, no PSRD): whether the hub answers at all, over a verified
   * TLS channel for an `https:` hub. A client probes with it before spending PSRD on a signed call
   * to a hub it has not reached yet (refused TLS, connection refused).
   */
  async health(): Promise<{ status: string }> {
    return this.plainCall(HubHealthSchema, "GET", "/health", undefined, undefined, undefined, undefined);
  }

  /** Close idle keep-alive sockets (call when done with this hub). */
  close(): void {
    this.transport.close();
  }

  // ------------------------------------------------------------------ plumbing

  private operatorHeaders(): Record<string, string> {
    return this.operatorToken !== undefined ? { Authorization: `Bearer ${this.operatorToken}` } : {};
  }

  /** An unsigned call: bearer token (or the given headers), JSON body, status → HubApiError, body validated. */
  private async plainCall<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    params: Params | undefined,
    data: unknown,
    extraHeaders?: Record<string, string>,
    bearer: string | undefined = this.bearerToken,
  ): Promise<z.output<S>> {
    const { url, body } = this.prepare(method, path, params, data, false);
    const headers = this.headers(body, bearer === undefined ? extraHeaders : { Authorization: `Bearer ${bearer}`, ...extraHeaders });
    const res = await this.replicas.exchange(this.transport, url, method, headers, body);
    if (res.status < 200 || res.status >= 300) throw httpError(res.status, res.body);
    return validate(schema, res.body, method, path);
  }

  /**
   * A signed call: serialize once, sign the exact bytes, send, read the raw body, verify the
   * response signature (for every status under gf128; v1 hmac-sha256 error responses are unsigned),
   * then decode and validate. Without `options.auth` the request is sent unsigned (no bearer).
   */
  private async signedCall<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    params: Params | undefined,
    data: unknown,
    options: SignedCallOptions | undefined,
    /** The call's result when the verified body is unexpected (calls whose answer carries nothing needed). */
    tolerated?: Tolerated<z.output<S>>,
  ): Promise<z.output<S>> {
    if (this.resolvePeer === undefined) return this.plainCall(schema, method, path, params, data, undefined, undefined);
    const { url, body } = this.prepare(method, path, params, data, true);
    const query = url.search.startsWith("?") ? url.search.slice(1) : "";
    let peer: PeerAuth;
    let signed: { header: string; requestTag: Uint8Array };
    try {
      peer = await this.resolvePeer({ method, url: url.href });
      signed = await signRequest(peer, { method, path: url.pathname, query, body });
    } catch (err) {
      throw toHubApiError(err);
    }
    const res = await this.replicas.exchange(this.transport, url, method, this.headers(body, { "DSKE-Signature": signed.header }), body);
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
      if (!ok) throw unauthenticatedError(res.status, res.body, err);
      throw new HubApiError(0, `response signature: ${(err as Error).message}`, signatureDetails(err), "signature");
    }
    if (!ok) throw httpError(res.status, res.body);
    options?.onVerified?.(committed);
    return readVerified(
      schema,
      { baseUrl: this.baseUrl, method, path, status: res.status },
      res.body,
      tolerated,
      this.onUnexpectedResponse,
    );
  }

  /** Count and publish the request; build its URL and JSON body. */
  private prepare(method: string, path: string, params: Params | undefined, data: unknown, signed: boolean): { url: URL; body: Buffer } {
    this.requests++;
    if (requestChannel.hasSubscribers) {
      const message: HubApiRequestMessage = { baseUrl: this.baseUrl, method, path, signed };
      requestChannel.publish(message);
    }
    const url = new URL(this.baseUrl + path);
    if (params) for (const [k, v] of Object.entries(params)) url.searchParams.append(k, String(v));
    const body = data === undefined ? EMPTY : Buffer.from(JSON.stringify(data), "utf8");
    return { url, body };
  }

  private headers(body: Buffer, extra: Record<string, string> | undefined): Record<string, string | number> {
    const headers: Record<string, string | number> = { Accept: "application/json" };
    // The trace of the request being served (trace-context.ts); not signed, it only names the trace.
    const traceparent = outgoingTraceparent();
    if (traceparent !== undefined) headers[TRACEPARENT_HEADER] = traceparent;
    if (body.length > 0) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    return extra ? Object.assign(headers, extra) : headers;
  }
}
