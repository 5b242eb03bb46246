/**
 * Express (5) middleware for a service that receives DSKE-signed requests (the hub's in-band routes).
 *
 * Order of work per request:
 *  1. read the raw body bytes from the stream (size limit → 413);
 *  2. resolve the peer (undefined → 401);
 *  3. parse DSKE-Signature (→ 401), reserve the named bytes in peer.peerPool WITHOUT consuming,
 *     verify the tag; on failure release the reservation (pools untouched) and answer 401;
 *  4. start the commit of the consumption, set req.body (parsed JSON, {} if empty) and
 *     res.locals.dskePeer, and run the route at once: the commit is queued in this turn of the
 *     event loop, so PSRD the route consumes from the same pool before its first real I/O (e.g.
 *     the hub's share pad) joins the same journal batch — one fsync for both;
 *  5. wrap res.send so the final body bytes are signed with PSRD from peer.localPool and the
 *     DSKE-Signature response header is set (res.json / res.sendStatus go through res.send).
 *     Nothing is sent before the request's PSRD consumption (4) is durable: the signer awaits it
 *     (failure → 503). The signed bytes are written with res.end directly (Content-Length set;
 *     no ETag: signed in-band responses are never conditional).
 *
 * Routes must answer with res.send / res.json / res.sendStatus (res.end bypasses signing).
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { SignatureError } from "./errors";
import { allocateSigningKey, reserveVerifyingKey, type SigningMaterial } from "./keys";
import { getScheme, requestParts, responseParts } from "./message";
import type { PeerAuth } from "./peer";
import { formatSignatureHeader, parseSignatureHeader, SIGNATURE_HEADER, SIGNATURE_HEADER_LC } from "./signature";

export interface SignatureMiddlewareOptions {
  resolvePeer: (req: Request, rawBody: Buffer) => PeerAuth | undefined | Promise<PeerAuth | undefined>;
  /** Default 1 MiB → 413 {message, details}. */
  maxBodyBytes?: number;
  /** Maximum fragments in a request's signature allocation (default 16). */
  maxFragments?: number;
  /**
   * Called for every request the middleware refuses (401 bad/missing signature or unknown peer,
   * 413 body too large, 400 unreadable body), before the response is sent — e.g. to count
   * authentication failures. `code` is the SignatureError code. Must not throw.
   */
  onReject?: (req: Request, status: number, code: string) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLargeError extends Error {}

/** Read the whole request body, refusing more than `limit` bytes. */
function readRawBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new BodyTooLargeError(`content-length ${declared} exceeds ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += b.length;
      if (size > limit) {
        done = true;
        cleanup();
        req.resume(); // discard the rest
        reject(new BodyTooLargeError(`body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(b);
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      if (done) return;
      done = true;
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      if (done) return;
      done = true;
      cleanup();
      reject(new Error("request closed before its body was complete"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** {message, details} body for a failure. */
export function errorBody(
  message: string,
  code: string,
  details: readonly string[] = [],
): { message: string; details: Array<Record<string, string>> } {
  return { message, details: [{ code }, ...details.map((d) => ({ reason: d }))] };
}

/** {} for an empty body, the parsed JSON, or undefined if it does not parse. */
function parseJsonOrUndefined(raw: Buffer): unknown {
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function splitUrl(originalUrl: string): { path: string; query: string } {
  const q = originalUrl.indexOf("?");
  if (q < 0) return { path: originalUrl, query: "" };
  return { path: originalUrl.slice(0, q), query: originalUrl.slice(q + 1) };
}

type SendFn = Response["send"];

/**
 * Replace res.send with a signing version. Body conversion mirrors express 5's res.send: objects
 * go through res.json (which calls res.send again with a string); strings are UTF-8 (Content-Type
 * text/html if unset); Buffers as is; 204/304 and HEAD carry no body (the empty body is signed).
 */
function installResponseSigner(
  req: Request,
  res: Response,
  peer: PeerAuth,
  requestTag: Uint8Array,
  next: NextFunction,
  requestCommitted: Promise<void> = Promise.resolve(),
): void {
  const scheme = getScheme(peer.scheme);
  const originalSend: SendFn = res.send.bind(res);
  let state: "idle" | "signing" | "sent" = "idle";

  const signedSend = function (this: Response, body?: unknown): Response {
    if (state !== "idle") {
      if (state === "sent" && res.headersSent) return originalSend(body); // express raises its own error
      throw new Error("DSKE: response already being sent");
    }
    if (body !== null && body !== undefined && typeof body === "object" && !Buffer.isBuffer(body) && !(body instanceof Uint8Array)) {
      return res.json(body); // calls res.send(string) again
    }
    let bytes: Buffer;
    if (body === undefined || body === null) bytes = Buffer.alloc(0);
    else if (typeof body === "string") {
      if (!res.get("Content-Type")) res.type("html");
      bytes = Buffer.from(body, "utf8");
    } else if (Buffer.isBuffer(body)) bytes = body;
    else if (body instanceof Uint8Array) bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    else {
      if (!res.get("Content-Type")) res.type("html");
      // What is left is a number, boolean, bigint, symbol or function.
      const rest = body as number | boolean | bigint | symbol | ((...args: never[]) => unknown);
      bytes = Buffer.from(String(rest), "utf8");
    }
    if (typeof body === "string" && !res.get("Content-Type")?.includes("charset")) {
      res.set("Content-Type", `${res.get("Content-Type")}; charset=utf-8`);
    }
    const status = res.statusCode;
    const signedBody = status === 204 || status === 304 || req.method === "HEAD" ? Buffer.alloc(0) : bytes;

    // v1 (hmac-sha256, the reference): error responses are unsigned (still only after the
    // request's PSRD consumption is durable).
    if (scheme.name === "hmac-sha256" && status >= 400) {
      state = "signing";
      requestCommitted.then(
        () => {
          state = "sent";
          originalSend(bytes);
        },
        (err: unknown) => {
          state = "sent";
          next(err);
        },
      );
      return res;
    }
    state = "signing";
    void (async () => {
      try {
        await requestCommitted;
      } catch (err) {
        state = "sent";
        res.status(503);
        res.removeHeader(SIGNATURE_HEADER);
        res.type("json");
        const detail = err instanceof Error ? err.message : String(err);
        originalSend(JSON.stringify(errorBody("Cannot record the request's PSRD consumption durably", "psrd_unavailable", [detail])));
        return;
      }
      let material: SigningMaterial;
      try {
        material = await allocateSigningKey(scheme, peer.localPool, `sign response ${req.method} ${splitUrl(req.originalUrl).path}`);
      } catch (err) {
        state = "sent";
        const e = err instanceof SignatureError ? err : new SignatureError("psrd_exhausted", "Cannot sign the response");
        res.status(503);
        res.removeHeader(SIGNATURE_HEADER);
        res.type("json");
        originalSend(JSON.stringify(errorBody("Cannot sign the response: no PSRD available", e.code, e.details)));
        return;
      }
      try {
        const parts = responseParts(scheme.name, { status, requestTag, body: signedBody, allocation: material.allocationString });
        const tag = scheme.sign(material.key, parts);
        res.setHeader(SIGNATURE_HEADER, formatSignatureHeader({ allocation: material.allocationString, tag }));
        state = "sent";
        sendSigned(req, res, status, bytes);
      } finally {
        material.key.fill(0);
      }
    })().catch((err: unknown) => {
      state = "sent";
      next(err);
    });
    return res;
  };
  res.send = signedSend as SendFn;
}

/**
 * Write the signed bytes (what express's res.send would do for a Buffer, minus ETag/freshness):
 * 204/304 carry no body and no entity headers; HEAD gets the headers only.
 */
function sendSigned(req: Request, res: Response, status: number, bytes: Buffer): void {
  if (status === 204 || status === 304) {
    res.removeHeader("Content-Type");
    res.removeHeader("Content-Length");
    res.removeHeader("Transfer-Encoding");
    res.end();
    return;
  }
  if (!res.getHeader("Content-Type")) res.setHeader("Content-Type", "application/octet-stream");
  res.setHeader("Content-Length", bytes.length);
  if (req.method === "HEAD") res.end();
  else res.end(bytes);
}

/** Express middleware verifying DSKE-Signature on requests and signing responses. See module comment. */
export function createSignatureMiddleware(options: SignatureMiddlewareOptions): RequestHandler {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) throw new RangeError("maxBodyBytes must be a non-negative integer");

  const reject = (res: Response, status: number, err: SignatureError): void => {
    if (options.onReject) {
      try {
        options.onReject(res.req, status, err.code);
      } catch {
        // why: an observer must not change the answer.
      }
    }
    res.status(status).json(errorBody(err.message, err.code, err.details));
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    void (async () => {
      if (req.readableEnded || (req as { _body?: unknown })._body === true) {
        // why: the _body flag is how body-parser marks a consumed stream (express.json upstream).
        res
          .status(500)
          .json(
            errorBody("Request body already consumed before DSKE signature check", "bad_message", [
              "mount createSignatureMiddleware before any body parser (it parses JSON itself)",
            ]),
          );
        return;
      }
      let raw: Buffer;
      try {
        raw = await readRawBody(req, maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          res.set("Connection", "close");
          reject(res, 413, new SignatureError("body_too_large", `Request body larger than ${maxBodyBytes} bytes`, [err.message]));
          return;
        }
        reject(
          res,
          400,
          new SignatureError("bad_message", "Cannot read the request body", [err instanceof Error ? err.message : String(err)]),
        );
        return;
      }

      // Convenience for resolvePeer (e.g. body.master_client_name): the parsed, NOT yet verified
      // body. Parsed once: after verification the same parse stands for the verified bytes (it
      // is a function of `raw` alone), so large batch bodies are not parsed twice.
      const parsed = parseJsonOrUndefined(raw);
      req.body = parsed;
      let peer: PeerAuth | undefined;
      try {
        peer = await options.resolvePeer(req, raw);
      } catch (err) {
        reject(
          res,
          401,
          new SignatureError("unknown_peer", "Cannot determine the sender of the request", [
            err instanceof Error ? err.message : String(err),
          ]),
        );
        return;
      }
      if (!peer) {
        reject(res, 401, new SignatureError("unknown_peer", "Unknown sender of the request"));
        return;
      }

      const scheme = getScheme(peer.scheme);
      const { path, query } = splitUrl(req.originalUrl);
      let requestTag: Uint8Array;
      let committed: Promise<void>;
      try {
        const sig = parseSignatureHeader(req.headers[SIGNATURE_HEADER_LC], { scheme: scheme.name, maxFragments: options.maxFragments });
        const { key, reservation } = await reserveVerifyingKey(
          scheme,
          peer.peerPool,
          sig.allocation,
          `verify request ${req.method} ${path}`,
        );
        let ok: boolean;
        try {
          const parts = requestParts(scheme.name, { method: req.method, path, query, body: raw, allocation: sig.allocationString });
          ok = scheme.verify(key, parts, sig.tag);
        } finally {
          key.fill(0);
        }
        if (!ok) {
          reservation.release();
          throw new SignatureError("bad_tag", "The request signature does not verify");
        }
        // Started now (journal record queued in this turn), awaited by the response signer.
        committed = reservation.commit();
        committed.catch(() => undefined); // observed by the signer; never an unhandled rejection
        requestTag = sig.tag;
      } catch (err) {
        if (err instanceof SignatureError) {
          reject(res, 401, err);
          return;
        }
        throw err;
      }

      res.locals.dskePeer = peer;
      installResponseSigner(req, res, peer, requestTag, next, committed);

      const body = parsed;
      if (body === undefined) {
        // Authenticated but not JSON: answered (signed) by us.
        req.body = undefined;
        res.status(400).json(errorBody("Request body is not valid JSON", "bad_message"));
        return;
      }
      req.body = body;
      next();
    })().catch(next);
  };
}
