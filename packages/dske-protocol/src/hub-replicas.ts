/**
 * HubReplicas: the base URLs of the replicas of one hub (same name, same path, one database
 * behind them; dske-hub's "PostgreSQL and replicas") and the failover between them.
 *
 * A call goes to the replica that answered last. It moves on to the next replica only when the
 * request cannot have been processed:
 * - the connection was never established (refused, unreachable, connect timeout): nothing sent;
 * - an unsigned 503: the replica refused before it verified the request's signature (its read
 *   barrier or its PSRD store is unavailable), so no pad of the request was consumed.
 * The same signed bytes then go to the next replica: the signature covers the path, not the
 * host, and a replica that did see them would refuse the replay (the pad is consumed in the
 * shared store), so a resent call can never be executed twice. Every other failure (a reset
 * after the request was sent, a timeout, a signed error) is the caller's, as with a single hub.
 */
import type { HttpExchange, HttpTransport } from "./http-transport.js";
import { HubApiError } from "./hub-api-error.js";

export class HubReplicas {
  readonly bases: readonly string[];
  private current = 0;

  /** `primary` and `others`: base URLs (`http(s)://HOST:PORT/hub/NAME`), every one with the same path. */
  constructor(primary: string, others: readonly string[] = []) {
    const bases = [primary, ...others].map((u) => u.replace(/\/+$/, ""));
    const paths = new Set(bases.map((u) => new URL(u).pathname));
    if (paths.size > 1) throw new TypeError(`HubApi: replicas of one hub must share the path, got ${[...paths].join(", ")}`);
    this.bases = bases;
  }

  /** The base URL calls go to now. */
  get active(): string {
    return this.bases[this.current];
  }

  /** Send one request (`url` built on `bases[0]`) to the active replica, failing over as above. */
  async exchange(
    transport: HttpTransport,
    url: URL,
    method: string,
    headers: Record<string, string | number>,
    body: Buffer,
  ): Promise<HttpExchange> {
    const n = this.bases.length;
    if (n === 1) return transport.exchange(url, method, headers, body);
    const rest = url.href.slice(this.bases[0].length);
    for (let i = 0; ; i++) {
      const index = (this.current + i) % n;
      const last = i === n - 1;
      try {
        const res = await transport.exchange(new URL(this.bases[index] + rest), method, headers, body);
        if (!last && res.status === 503 && res.signature === undefined) continue;
        this.current = index;
        return res;
      } catch (err) {
        if (last || !neverSent(err)) throw err;
      }
    }
  }
}

/** Whether the request failed before a connection existed (nothing reached the replica). */
function neverSent(err: unknown): boolean {
  return (
    err instanceof HubApiError &&
    err.code === "network" &&
    /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|connect timed out/.test(err.message)
  );
}
