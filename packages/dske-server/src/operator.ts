/**
 * The operator credential of the management plane, shared by hub and client routers.
 *
 * - `createOperatorGuard`: Express middleware admitting only the operator: `Authorization: Bearer
 *   <token>` equal to the configured operator token (compared in constant time over SHA-256
 *   digests), or, under mutual TLS, a verified client certificate with the operator CN.
 *   No credential presented → 401; a wrong one → 403; a router configured with neither a token nor
 *   an operator CN → 401 "management is disabled". Refusals are counted in
 *   `dske_auth_failures_total` with fixed reasons (never a value taken from the request).
 * - `crossSiteGuard`: refuses a request whose `Origin` is not the node itself (403).
 * - `jsonWritesOnly`: refuses a write (POST/PUT/PATCH/DELETE) whose Content-Type is not
 *   `application/json` (415), so that no HTML form or "simple" cross-site request can reach it.
 * - `readOperatorTokenFile` / `isLoopbackHost`: helpers of the standalone servers.
 *
 * Route tables mark guarded routes with `security: "operator"`; `registerRoute` refuses such a
 * route unless its first handler is an operator guard (see route-register.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { promises as fs } from "node:fs";
import { isIP } from "node:net";
import type { PeerCertificate, TLSSocket } from "node:tls";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { NodeMetrics } from "./metrics.js";

/** CN of the certificate the CLI uses for management calls over mutual TLS. */
export const DEFAULT_OPERATOR_CN = "dske-operator";

/** Name of the token file in a topology's state dir (`<state_dir>/operator-token`). */
export const OPERATOR_TOKEN_FILE = "operator-token";

/** Message of the 401 answered when no operator credential is presented. */
export const OPERATOR_CREDENTIAL_REQUIRED =
  "management requires the operator credential (Authorization: Bearer <token of STATE_DIR/operator-token>)";

/** Message of the 401 answered by a node configured without any operator credential. */
export const MANAGEMENT_DISABLED =
  "management is disabled: no operator credential configured (start the node with --operator-token-file FILE)";

export interface OperatorGuardOptions {
  /** The operator token (`Authorization: Bearer <token>`); absent = no token accepted. */
  operatorToken?: string;
  /**
   * Under mutual TLS: the CN of the operator certificate (e.g. DEFAULT_OPERATOR_CN). Absent = no
   * certificate is accepted (plain HTTP, or a node whose TLS does not authenticate the operator).
   */
  operatorCn?: string;
  /** Count refusals in this node's `dske_auth_failures_total`. */
  metrics?: NodeMetrics;
  /** Where refusals are reported (one line, never the presented token). */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

const GUARD = Symbol.for("dske.operatorGuard");

/** An operator guard middleware (branded, so that registerRoute can check it is in place). */
export type OperatorGuard = RequestHandler & {
  readonly [GUARD]: true;
  /** False when neither a token nor an operator CN is configured (every guarded route answers 401). */
  readonly enabled: boolean;
};

export function isOperatorGuard(handler: unknown): handler is OperatorGuard {
  return typeof handler === "function" && (handler as Partial<Record<typeof GUARD, unknown>>)[GUARD] === true;
}

/** Tokens must be printable ASCII without spaces (they travel in a header), 16 to 4096 characters. */
export function operatorTokenProblem(token: string): string | undefined {
  if (token.length < 16) return "it is shorter than 16 characters";
  if (token.length > 4096) return "it is longer than 4096 characters";
  if (!/^[\x21-\x7e]+$/.test(token)) return "it contains spaces or characters other than printable ASCII";
  return undefined;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Subject CN of the verified peer certificate of a TLS request, or undefined. */
export function peerCertificateCn(req: Request): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== "function" || socket.authorized !== true) return undefined;
  // why: node returns an empty object when the peer sent no certificate, so subject may be
  // missing, and null once the socket is closed (a request line written after the caller hung up:
  // reading it unguarded crashed the node).
  const cert = socket.getPeerCertificate() as Partial<PeerCertificate> | null;
  const cn: unknown = cert?.subject?.CN;
  // why: a certificate may carry several CNs (node gives an array); refuse ambiguity.
  return typeof cn === "string" && cn.length > 0 ? cn : undefined;
}

/** Constant-time comparison of two secrets (SHA-256 digests first: equal lengths whatever the input). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

export function createOperatorGuard(options: OperatorGuardOptions): OperatorGuard {
  if (options.operatorToken !== undefined) {
    const problem = operatorTokenProblem(options.operatorToken);
    if (problem) throw new TypeError(`operator token refused: ${problem}`);
  }
  const expected = options.operatorToken !== undefined ? digest(options.operatorToken) : undefined;
  const cn = options.operatorCn;
  const node = options.metrics;
  const enabled = expected !== undefined || cn !== undefined;
  const what = (req: Request) => `${req.method} ${req.originalUrl.split("?")[0]}`;
  const refuse = (res: Response, status: 401 | 403, reason: string, message: string, details?: unknown[]): void => {
    node?.authFailure(reason);
    res.status(status).json(details ? { message, details } : { message });
  };
  const guard = (req: Request, res: Response, next: NextFunction): void => {
    if (!enabled) {
      refuse(res, 401, "operator_disabled", MANAGEMENT_DISABLED);
      return;
    }
    const certCn = cn !== undefined ? peerCertificateCn(req) : undefined;
    if (certCn !== undefined && certCn === cn) {
      next();
      return;
    }
    const presented = bearerToken(req.get("authorization"));
    if (presented !== undefined) {
      if (expected !== undefined && timingSafeEqual(digest(presented), expected)) {
        next();
        return;
      }
      options.warn?.("refused management call", { call: what(req), reason: "wrong operator token" });
      refuse(res, 403, "operator_token_refused", "the operator token is wrong: management refused");
      return;
    }
    if (certCn !== undefined) {
      options.warn?.("refused management call", { call: what(req), reason: "certificate not the operator's", cert_cn: certCn });
      refuse(
        res,
        403,
        "operator_certificate_refused",
        `certificate CN=${certCn} may not use the management API (operator credential required)`,
      );
      return;
    }
    const accepted = [
      ...(expected !== undefined ? [{ header: "Authorization", expected: "Bearer <operator token>" }] : []),
      ...(cn !== undefined ? [{ tls: `client certificate CN=${cn}` }] : []),
    ];
    refuse(res, 401, "operator_credential_missing", OPERATOR_CREDENTIAL_REQUIRED, accepted);
  };
  Object.defineProperty(guard, GUARD, { value: true, enumerable: false });
  Object.defineProperty(guard, "enabled", { value: enabled, enumerable: false });
  return guard as OperatorGuard;
}

/** `host:port` of a URL authority (lower-case host; default port of the scheme when absent). */
function authority(hostAndPort: string, secure: boolean): string | undefined {
  try {
    const u = new URL(`${secure ? "https" : "http"}://${hostAndPort}`);
    if (u.username || u.password || u.pathname !== "/" || u.search || u.hash) return undefined;
    return `${u.hostname.toLowerCase()}:${u.port || (secure ? "443" : "80")}`;
  } catch {
    return undefined;
  }
}

/** True when `origin` (an Origin header) names the same host:port as `host` (the Host header). */
export function sameOrigin(origin: string, host: string | undefined, secure: boolean): boolean {
  if (host === undefined) return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false; // "null" (opaque origin) or garbage
  }
  if (o.protocol !== "http:" && o.protocol !== "https:") return false;
  const originAuthority = `${o.hostname.toLowerCase()}:${o.port || (o.protocol === "https:" ? "443" : "80")}`;
  return originAuthority === authority(host, secure);
}

/**
 * Refuse cross-site requests: a request carrying an `Origin` header whose host:port differs
 * from its `Host` header gets 403 `{message: "cross-site request refused"}`. Requests without
 * Origin (curl, the CLI, other nodes, same-origin GETs) pass.
 */
export function crossSiteGuard(options: { metrics?: NodeMetrics } = {}): RequestHandler {
  return (req, res, next) => {
    const origin = req.get("origin");
    if (origin === undefined || sameOrigin(origin, req.get("host"), req.secure || (req.socket as Partial<TLSSocket>).encrypted === true)) {
      next();
      return;
    }
    options.metrics?.authFailure("cross_site");
    res.status(403).json({
      message: "cross-site request refused",
      details: [{ reason: "the Origin header names another site than this node (Host)", header: "Origin" }],
    });
  };
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** True when a Content-Type header is `application/json` (parameters such as charset allowed). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";")[0].trim().toLowerCase();
  return type === "application/json";
}

/**
 * Writes (POST/PUT/PATCH/DELETE) must declare `Content-Type: application/json` (415 otherwise):
 * a browser cannot send that cross-site without a CORS preflight, which the nodes never grant.
 */
export function jsonWritesOnly(): RequestHandler {
  return (req, res, next) => {
    // A DELETE without a body (no Content-Type, no length, not chunked) carries nothing to mistype,
    // and no HTML form or simple cross-site request can send DELETE.
    const bodiless =
      req.get("content-type") === undefined && (req.get("content-length") ?? "0") === "0" && req.get("transfer-encoding") === undefined;
    if (!WRITE_METHODS.has(req.method) || isJsonContentType(req.get("content-type")) || (req.method === "DELETE" && bodiless)) {
      next();
      return;
    }
    const got = req.get("content-type");
    res.status(415).json({
      message: `unsupported media type: ${req.method} here needs Content-Type: application/json (a JSON body, {} when there is nothing to send)`,
      details: [{ header: "Content-Type", expected: "application/json", received: got === undefined ? null : got.slice(0, 100) }],
    });
  };
}

/** True for a loopback bind address: 127.0.0.0/8, ::1 (also `[::1]`, `::ffff:127.x`), `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  const v4 = h.startsWith("::ffff:") && isIP(h.slice(7)) === 4 ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.split(".")[0] === "127";
  if (isIP(h) === 6) {
    const groups = expandIpv6(h);
    return groups !== undefined && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  }
  return false;
}

function expandIpv6(addr: string): number[] | undefined {
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const a = parse(head);
  const b = parse(tail);
  if ([...a, ...b].some((n) => !Number.isFinite(n))) return undefined;
  const fill = tail === undefined ? [] : new Array<number>(8 - a.length - b.length).fill(0);
  const all = [...a, ...fill, ...b];
  return all.length === 8 ? all : undefined;
}

/** A token file that cannot be used (missing, empty, readable by others, bad content). */
export class OperatorTokenFileError extends Error {
  override readonly name = "OperatorTokenFileError";
}

/**
 * Read the operator token from `file` (one line; surrounding whitespace ignored). The file must
 * exist, hold a usable token, and not be readable by group or others (POSIX).
 */
export async function readOperatorTokenFile(file: string, option = "--operator-token-file"): Promise<string> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    throw new OperatorTokenFileError(
      `${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
        "give the file of the topology's operator token (dske-cli creates <state_dir>/operator-token)",
    );
  }
  if (!stat.isFile()) throw new OperatorTokenFileError(`${option} ${file}: not a regular file`);
  if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
    throw new OperatorTokenFileError(
      `${option} ${file}: readable by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(3, "0")}); ` +
        `the operator token must be private: chmod 600 ${file}`,
    );
  }
  const token = (await fs.readFile(file, "utf8")).trim();
  if (token.length === 0) {
    throw new OperatorTokenFileError(`${option} ${file}: the file is empty; write the operator token into it (e.g. 64 hex characters)`);
  }
  const problem = operatorTokenProblem(token);
  if (problem) throw new OperatorTokenFileError(`${option} ${file}: not a usable operator token: ${problem}`);
  return token;
}

/**
 * The operator token of a standalone node's configuration: given directly, or read (and checked)
 * from its file; undefined = none. A bad file becomes the caller's usage error (`asUsageError`).
 */
export async function operatorTokenOf(
  config: { operatorToken?: string; operatorTokenFile?: string },
  asUsageError: (message: string) => Error,
): Promise<string | undefined> {
  if (config.operatorToken !== undefined) return config.operatorToken;
  if (config.operatorTokenFile === undefined) return undefined;
  try {
    return await readOperatorTokenFile(config.operatorTokenFile);
  } catch (err) {
    if (err instanceof OperatorTokenFileError) throw asUsageError(err.message);
    throw err;
  }
}
