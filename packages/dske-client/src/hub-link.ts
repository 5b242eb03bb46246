/**
 * The link to one hub: what every part of a PeerHub shares (registration.ts, replenishment.ts,
 * acks.ts, share-posts.ts, share-fetches.ts). The hub's URL and name, the typed `HubApi`, whether
 * we are registered, the negotiated auth scheme and extensions, and the health record (last
 * error, last good exchange). Failures of a hub are `HubFailure`s whose message starts with the
 * hub name.
 */
import type https from "node:https";
import { GF128_PAD_LENGTH, HMAC_SHA256_KEY_LENGTH, type AuthSchemeName, type PeerAuth } from "@dske/auth";
import { ACK_EXTENSION, BATCH_EXTENSION, HubApi, HubApiError, type LogFields } from "@dske/protocol";
import { hubAgentTls, isTlsHubUrl } from "./hub-tls.js";
import { describeConnectError, isConnectFailure } from "./hub-probe.js";
import type { NodeState } from "./node-state.js";

/** How a client talks to each hub: registration, retries, timeouts, batching, acknowledgements. */
export interface HubLinkOptions {
  /** Scheme proposed at registration (default gf128). */
  authScheme?: AuthSchemeName;
  /**
   * Refuse a hub that does not speak the proposed scheme (default true: no fallback to
   * hmac-sha256). Set false only where the topology allows hmac-sha256 (reference hubs).
   */
  requireAuthScheme?: boolean;
  /**
   * Registration retry backoff (ms): exponential with full jitter (each wait is uniform in
   * [0, min(retryMaxMs, retryInitialMs * 2^attempt)]). Defaults 200 / 5000. A request that needs
   * a hub held for down does not wait for this timer: it probes the hub (`connectTimeoutMs`).
   */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Per-request timeout (ms): a hub that accepted the request but sends nothing this long fails it. Default 10,000. */
  timeoutMs?: number;
  /**
   * Connect timeout (ms): a new connection to the hub not established within this fails at once
   * (the request was never sent); also the bound of an on-demand probe of a hub held for down.
   * Default 3000.
   */
  connectTimeoutMs?: number;
  /**
   * Retries of one signed call (default 2), with exponential backoff and full jitter from
   * `callRetryInitialMs` (default 50) capped at `callRetryMaxMs` (default 1000). Only where a
   * retry is safe: a call that never reached the hub (connection refused or unreachable; not a
   * connect timeout, which TCP already spent resending), and a share fetch that lost its connection when the hub keeps released shares until
   * acknowledged (the `ack` extension). Never after a request timeout: gathers hedge and
   * scatters need k of n instead.
   */
  callRetries?: number;
  callRetryInitialMs?: number;
  callRetryMaxMs?: number;
  /** Coalesce concurrent share posts / fetches into batch messages (default true; needs the hub's batch extension; coalescer.ts). */
  coalesce?: boolean;
  /** Propose the `ack` extension at registration (default true; false behaves as a v1 client). */
  ackExtension?: boolean;
  /**
   * Ack extension: pending acknowledgements ride on the next fetch to this hub; if none goes out
   * within this many ms, they are sent alone (one signed ack-only message). Default 1000.
   */
  ackFlushMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

/** A failure of one hub for one operation; the message starts with the hub name. */
export class HubFailure extends Error {
  override readonly name = "HubFailure";
  constructor(
    readonly hub: string,
    readonly reason: string,
    readonly status = 0,
  ) {
    super(`${hub}: ${reason}`);
  }
}

export class HubLink {
  /** The hub's URL: its first replica's (what node-state.ts keys the hub by). */
  readonly url: string;
  /** Base URLs of every replica of the hub, `url` first (hub-replicas.ts in @dske/protocol). */
  readonly urls: readonly string[];
  /** Hub name: from the registration response; until then the last URL path segment. */
  name: string;
  registered = false;
  stopped = false;
  scheme: AuthSchemeName | undefined;
  extensions = new Set<string>();
  lastError: string | undefined;
  lastFailureAt = 0;
  /** Time of the last exchange with the hub that succeeded (registration or signed call). */
  lastOkAt = 0;
  /** In-band calls, signed with the PSRD that `resolvePeer` names (replenishment.ts). */
  readonly api: HubApi;
  /** Connect timeout (ms): of new connections, and the bound of a probe (hub-probe.ts). */
  readonly connectTimeoutMs: number;
  /** Aborted at stop: ends backoff sleeps and waits for bundles. */
  readonly abort = new AbortController();
  /** Whether the hub URL is `https://` (verified with `tls`). */
  readonly secure: boolean;

  constructor(
    url: string,
    state: NodeState,
    /** The request timeout (ms), or the timeouts of HubLinkOptions. */
    timeouts: number | Pick<HubLinkOptions, "timeoutMs" | "connectTimeoutMs"> | undefined,
    resolvePeer: () => PeerAuth | undefined,
    /** Where a verified but unexpected response body is reported (a warning; see HubApi's onUnexpectedResponse). */
    warn: (message: string, fields: LogFields) => void = () => {},
    /** A hub of the reference implementation (reference-hub.ts): its v1 wire, PSRD by unauthenticated GET psrd. */
    readonly reference = false,
    /** TLS options of every call to an `https://` hub (hub-tls.ts hubAgentTls: the CA it must chain to). */
    readonly tls: https.AgentOptions = hubAgentTls(undefined),
  ) {
    // `URL|URL|...`: the replicas of one hub (splitHubReplicas).
    this.urls = splitHubReplicas(url);
    this.url = this.urls[0];
    this.secure = isTlsHubUrl(this.url);
    this.name = this.url.split("/").pop() || this.url;
    const rec = state.hub(this.url);
    if (rec) this.name = rec.hub_name;
    const t = typeof timeouts === "number" ? { timeoutMs: timeouts } : (timeouts ?? {});
    this.connectTimeoutMs = t.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.api = new HubApi(this.url, {
      replicaUrls: this.urls.slice(1),
      timeoutMs: t.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      connectTimeoutMs: this.connectTimeoutMs,
      tls,
      // The hub closed a connection (stopped, crashed, restarted, or idle): not known good until
      // the next exchange succeeds (the key stock is then not used; key-issuing.ts healthyHubs).
      onConnectionLost: () => {
        this.lastOkAt = 0;
      },
      // A signed 2xx that verified is what it says (e.g. a stored share) even if its body is not
      // what we expect (the reference hub answers POST key-share with `null`): warn, carry on.
      onUnexpectedResponse: (e) =>
        warn("unexpected response body from hub", {
          hub: this.name,
          received: e.received,
          method: e.method,
          path: e.path,
          status: e.status,
          outcome: e.outcome,
        }),
      auth: {
        resolvePeer: () => {
          const auth = resolvePeer();
          if (!auth) throw new HubFailure(this.name, "not registered");
          return auth;
        },
      },
    });
  }

  get supportsBatch(): boolean {
    return this.extensions.has(BATCH_EXTENSION);
  }

  /** Whether this hub keeps released shares until we acknowledge them (the `ack` extension). */
  get supportsAck(): boolean {
    return this.extensions.has(ACK_EXTENSION) && this.supportsBatch;
  }

  /** PSRD bytes consumed by one signed message under the negotiated scheme. */
  get messageCost(): number {
    return this.scheme === "hmac-sha256" ? HMAC_SHA256_KEY_LENGTH : GF128_PAD_LENGTH;
  }

  notRegistered(): HubFailure {
    return new HubFailure(this.name, this.lastError ?? "not registered");
  }

  /**
   * Whether a failed call means the hub may no longer know us, so that we register again: a 401,
   * or no usable answer (down, timed out, a bad response signature). Never a response whose
   * signature verified: its hub knows us and the PSRD of both sides moved in step, only its body
   * was unexpected (re-registering would make a reference hub reset our pools).
   */
  static suggestsReregistration(err: unknown, status: number): boolean {
    if (err instanceof HubApiError && err.authenticated) return false;
    return status === 401 || (status === 0 && err instanceof HubApiError);
  }

  /**
   * `suggestsReregistration`, and for a reference hub also its unsigned "not registered" refusal
   * (HTTP 400 `{detail: "Client carol is not registered."}`): it lost its state (restarted), so
   * we register again and start over with fresh pools (reference-hub.ts).
   */
  shouldReregister(err: unknown, status: number): boolean {
    if (HubLink.suggestsReregistration(err, status)) return true;
    return this.reference && isNotRegisteredAnswer(err);
  }

  /** The error as a HubFailure of this hub; remembered as the last error unless a 404 (a key the hub does not hold). */
  failure(err: unknown, what: string): HubFailure {
    if (err instanceof HubFailure) return err;
    const f =
      err instanceof HubApiError
        ? new HubFailure(this.name, describeApiError(err), err.status)
        : new HubFailure(this.name, `${what}: ${err instanceof Error ? err.message : String(err)}`);
    if (f.status !== 404) {
      this.lastError = f.reason;
      this.lastFailureAt = Date.now();
    }
    return f;
  }

  /** Remember a background failure (registration, replenishment) as the last error. */
  noteFailure(err: unknown): void {
    if (err instanceof HubFailure) this.lastError = err.reason;
    else if (err instanceof HubApiError) this.lastError = describeApiError(err);
    else this.lastError = err instanceof Error ? err.message : String(err);
    this.lastFailureAt = Date.now();
  }

  /** An exchange with the hub succeeded. */
  noteOk(): void {
    this.lastError = undefined;
    this.lastOkAt = Date.now();
  }
}

/**
 * The base URLs in a hub entry: one URL, or the URLs of the replicas of one hub joined with `|`
 * (`http://h:8100/hub/hank|http://h:8101/hub/hank`); trailing slashes dropped.
 */
export function splitHubReplicas(entry: string): string[] {
  return entry.split("|").map((u) => u.trim().replace(/\/+$/, ""));
}

/** A hub's refusal saying that it does not know us (any 4xx whose message says "not registered"). */
export function isNotRegisteredAnswer(err: unknown): boolean {
  const status = err instanceof HubApiError || err instanceof HubFailure ? err.status : 0;
  return status >= 400 && status < 500 && err instanceof Error && /not registered/i.test(err.message);
}

function describeApiError(err: HubApiError): string {
  // The connection was not established: the words of a probe (hub-probe.ts), the same for both.
  if (err.code === "network" && isConnectFailure(err.message)) {
    const code = /^hub unreachable: (E[A-Z_]+)$/.exec(err.message)?.[1];
    return code ? describeConnectError(code) : err.message.replace(/^hub unreachable: /, "");
  }
  return err.status > 0 ? `HTTP ${err.status} ${err.message}` : err.message;
}

/** Wait `ms`, or less if `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
