/**
 * One raw HTTP exchange (node:http), as the emulator needs it for the DSKE wire: the exact body
 * bytes it sends and receives are what DSKE-Signature tags, so nothing may re-encode them.
 */
import http from "node:http";

export interface RawResponse {
  readonly status: number;
  /** A response header (lower-case name), or null. */
  header(name: string): string | null;
  readonly body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** Send `body` (when given) to `url` and collect the whole answer; rejects on network errors and after `timeoutMs`. */
export function httpCall(
  method: "GET" | "PUT" | "POST",
  url: string,
  headers: Record<string, string> = {},
  body?: Uint8Array,
  timeoutMs = 30_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: body ? { ...headers, "Content-Length": String(body.length) } : headers, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const all = res.headers;
          resolve({
            status: res.statusCode ?? 0,
            header: (name) => {
              const v = all[name.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
            },
            body: Buffer.concat(chunks),
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** A JSON answer's `detail` (the reference's FastAPI errors) or `message` (ours), for error texts. */
export function errorText(res: RawResponse): string {
  try {
    const parsed: unknown = JSON.parse(res.body.toString("utf8"));
    if (parsed !== null && typeof parsed === "object") {
      const o = parsed as Record<string, unknown>;
      const text = o.detail ?? o.message;
      if (text !== undefined) return `HTTP ${res.status}: ${typeof text === "string" ? text : JSON.stringify(text)}`;
    }
  } catch {
    // not JSON: the status alone
  }
  return `HTTP ${res.status}`;
}
