/**
 * One JSON request over node:http / node:https, for management calls (the CLI's, and a hub's
 * local distributor's calls to its clients). No HTTP library: a node process that loads none
 * starts about 0.1 s sooner.
 *
 * - The body, if any, is sent as JSON (`Content-Type: application/json`).
 * - The answer is `{status, data}` for any status: the body parsed as JSON when it is JSON, else
 *   its text (for the error report).
 * - A socket failure rejects with its code (ECONNREFUSED, ...); a socket idle for `timeoutMs`
 *   rejects with code ETIMEDOUT; an aborted `signal` rejects with code ABORT_ERR.
 */
import http from "node:http";
import https from "node:https";

export interface JsonRequestOptions {
  method: "GET" | "POST";
  /** The request fails when its socket is idle this long (ms). */
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Agent for `http:` URLs (default: Node's global agent). */
  agent?: http.Agent;
  /** Agent for `https:` URLs (CA, client certificate; default: Node's global agent). */
  httpsAgent?: https.Agent;
  signal?: AbortSignal;
}

export interface JsonResponse {
  status: number;
  data: unknown;
}

export function jsonRequest(url: string | URL, opts: JsonRequestOptions): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = (typeof url === "string" ? url : url.href).startsWith("https:");
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = {
      Accept: "application/json",
      ...opts.headers,
      ...(body ? { "Content-Type": "application/json", "Content-Length": String(body.length) } : {}),
    };
    const onResponse = (res: http.IncomingMessage) => void readJsonResponse(res).then(resolve, reject);
    const options = { method: opts.method, headers, ...(opts.signal ? { signal: opts.signal } : {}) };
    const req = isHttps
      ? https.request(url, { ...options, ...(opts.httpsAgent ? { agent: opts.httpsAgent } : {}) }, onResponse)
      : http.request(url, { ...options, ...(opts.agent ? { agent: opts.agent } : {}) }, onResponse);
    req.setTimeout(opts.timeoutMs, () => {
      req.destroy(Object.assign(new Error(`timeout of ${opts.timeoutMs}ms exceeded`), { code: "ETIMEDOUT" }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The answer of a node:http request as `{status, data}`: the body parsed as JSON when it is JSON, else the text. */
export function readJsonResponse(res: http.IncomingMessage): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("error", reject);
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let data: unknown = text;
      try {
        data = JSON.parse(text) as unknown;
      } catch {
        // not JSON: the text itself (for the error report)
      }
      resolve({ status: res.statusCode ?? 0, data });
    });
  });
}
