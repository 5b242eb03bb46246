/**
 * The one HTTP transport of `HubApi`: node:http / node:https with a keep-alive agent and Nagle
 * off, raw request and response bytes (so that @dske/auth can sign and verify the exact bytes).
 * Every failure is a HubApiError (codes "network", "timeout", "invalid_response").
 *
 * TLS: an `https:` hub URL goes through a keep-alive https.Agent built with `tls` (CA, client
 * certificate and key, other `https.AgentOptions`), or the system CAs when none is given; the
 * server certificate is always verified (chain and the URL's host in its SANs).
 */
import http from "node:http";
import https from "node:https";
import { HubApiError } from "./hub-api-error.js";

/** Largest response body accepted (bytes). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface HttpTransportOptions {
  /** Per-request timeout in ms: the request fails when its socket is idle this long. */
  timeoutMs: number;
  /**
   * Connect timeout in ms: a new connection not established within this fails at once (code
   * "network", "connect timed out"; the request was never sent). Default: only `timeoutMs`.
   */
  connectTimeoutMs?: number;
  /** Max concurrent sockets to the hub (keep-alive is on). */
  maxSockets: number;
  /** TLS options of the https agent (`ca`, `cert`, `key`, `minVersion`, ...). */
  tls?: https.AgentOptions;
  /** A keep-alive connection closed without `close()` (see HubApiOptions.onConnectionLost). */
  onConnectionLost?: () => void;
}

/** One HTTP exchange: the status, the DSKE-Signature header and the raw body. */
export interface HttpExchange {
  status: number;
  signature: string | undefined;
  body: Buffer;
}

export class HttpTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /** Sockets whose close is watched (onConnectionLost). */
  private readonly watched = new WeakSet();
  private closing = false;

  constructor(private readonly options: HttpTransportOptions) {
    const agent = { keepAlive: true, maxSockets: options.maxSockets, noDelay: true };
    this.httpAgent = new http.Agent(agent);
    this.httpsAgent = new https.Agent({ ...options.tls, ...agent });
  }

  /**
   * Send one request. A keep-alive socket the hub closed just as it was reused (idle timeout)
   * fails before a response: the hub never saw the request, so the same bytes are sent once
   * more on a fresh socket (a hub that did see a signed request refuses the replay: the MAC pad
   * is consumed).
   */
  async exchange(url: URL, method: string, headers: Record<string, string | number>, body: Buffer): Promise<HttpExchange> {
    try {
      return await this.send(url, method, headers, body);
    } catch (err) {
      if (err instanceof StaleSocketError) return this.send(url, method, headers, body);
      throw err;
    }
  }

  /** Close idle keep-alive sockets. */
  close(): void {
    this.closing = true;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private send(url: URL, method: string, headers: Record<string, string | number>, body: Buffer): Promise<HttpExchange> {
    const tls = url.protocol === "https:";
    const timeoutMs = this.options.timeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      let gotResponse = false;
      const fail = (err: HubApiError) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const req = (tls ? https : http).request(url, { method, headers, agent: tls ? this.httpsAgent : this.httpAgent }, (res) => {
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
      });
      req.setNoDelay(true);
      const lost = this.options.onConnectionLost;
      if (lost) {
        req.on("socket", (socket) => {
          if (this.watched.has(socket)) return;
          this.watched.add(socket);
          socket.once("close", () => {
            if (!this.closing) lost();
          });
        });
      }
      const connectMs = this.options.connectTimeoutMs;
      if (connectMs !== undefined) {
        req.on("socket", (socket) => {
          if (!socket.connecting) return; // a reused keep-alive connection
          const timer = setTimeout(() => {
            fail(new HubApiError(0, `hub unreachable: connect timed out after ${connectMs} ms`, undefined, "network"));
            req.destroy();
          }, connectMs);
          socket.once("connect", () => clearTimeout(timer));
          socket.once("close", () => clearTimeout(timer));
        });
      }
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        fail(new HubApiError(0, `hub request timed out: timeout of ${timeoutMs}ms exceeded`, undefined, "timeout"));
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && err.code === "ECONNRESET" && !gotResponse) {
          if (!settled) {
            settled = true;
            reject(new StaleSocketError());
          }
          return;
        }
        fail(new HubApiError(0, connectionFailure(err), undefined, "network"));
      });
      req.end(body.length > 0 ? body : undefined);
    });
  }
}

/**
 * What a failed connection says: a TLS failure (certificate not chaining to the CA, host not in
 * its SANs, expired, handshake refused) names itself with its code and reason; others their code.
 */
export function connectionFailure(err: NodeJS.ErrnoException): string {
  const code = err.code ?? "";
  if (/^ERR_(TLS|SSL)_|CERT|UNABLE_TO_|SELF_SIGNED|^EPROTO$/.test(code)) {
    return `hub unreachable: TLS verification of the hub failed: ${code} (${err.message})`;
  }
  return `hub unreachable: ${err.code ?? err.message}`;
}

/** The request failed on a reused keep-alive socket before a response (see exchange). */
class StaleSocketError extends Error {}
