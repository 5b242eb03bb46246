/**
 * Axios interceptors for the caller side (client → hub).
 *
 * Request: the URL is built once (axios' own baseURL/url/params rules via instance.getUri), then
 * normalized by WHATWG URL exactly as axios' http adapter does; config.url is replaced by that
 * absolute URL and params/baseURL cleared, so the path and raw query we sign are the ones sent.
 * The body is serialized once (objects → JSON.stringify) to a Buffer and transformRequest is
 * disabled, so the signed bytes are the sent bytes. Material is allocated from peer.localPool.
 *
 * Response: responseType "arraybuffer" and no transformResponse, so we see the raw body bytes;
 * the signature is verified from peer.peerPool (reserve → verify → commit; release on failure)
 * and only then is the body decoded (JSON if it parses, as axios does by default).
 */
import type { AxiosError, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from "axios";
import { SignatureError, SignatureHeaderError } from "./errors";
import { verifyResponse as verifyResponseSignature } from "./http-signer";
import { allocateSigningKey } from "./keys";
import { getScheme, requestParts } from "./message";
import type { PeerAuth } from "./peer";
import { formatSignatureHeader, SIGNATURE_HEADER, SIGNATURE_HEADER_LC } from "./signature";

export interface SignatureInterceptorOptions {
  resolvePeer: (config: InternalAxiosRequestConfig) => PeerAuth | Promise<PeerAuth>;
  /** Maximum fragments accepted in a response's signature allocation (default 16). */
  maxFragments?: number;
}

interface DskeRequestState {
  peer: PeerAuth;
  requestTag: Uint8Array;
  /** responseType the caller asked for (we force "arraybuffer" on the wire). */
  callerResponseType: InternalAxiosRequestConfig["responseType"];
  path: string;
}

const STATE = Symbol.for("@dske/auth/request");
type ConfigWithState = InternalAxiosRequestConfig & { [STATE]?: DskeRequestState };

/** The request body as the exact bytes to send (and sets Content-Type for JSON). */
function serializeBody(config: InternalAxiosRequestConfig): Buffer {
  const data: unknown = config.data;
  if (data === undefined || data === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (typeof data === "object") {
    if (!config.headers.getContentType()) config.headers.setContentType("application/json");
    return Buffer.from(JSON.stringify(data), "utf8");
  }
  throw new SignatureError("bad_message", `Cannot sign a request body of type ${typeof data}`);
}

function decodeBody(bytes: Buffer, responseType: InternalAxiosRequestConfig["responseType"]): unknown {
  if (responseType === "arraybuffer") return bytes;
  const text = bytes.toString("utf8");
  if (responseType === "text") return text;
  if (text.length === 0) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data === undefined || data === null) return Buffer.alloc(0);
  throw new SignatureError("bad_message", "Cannot read the raw response body");
}

function headerValue(response: AxiosResponse): string | undefined {
  const v: unknown = response.headers[SIGNATURE_HEADER_LC];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map(String).join(", ");
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  // An object (e.g. a nested AxiosHeaders) is no header value; its string form could never parse.
  throw new SignatureHeaderError("malformed_signature", `${SIGNATURE_HEADER} header is not a string`);
}

/**
 * Verify a response's DSKE-Signature (throws SignatureError), then decode its body in place.
 * Exported for tests and for callers not using axios.
 */
async function verifyResponse(response: AxiosResponse, state: DskeRequestState, maxFragments?: number): Promise<void> {
  const raw = toBuffer(response.data);
  await verifyResponseSignature(
    state.peer,
    { status: response.status, header: headerValue(response), requestTag: state.requestTag, body: raw, path: state.path },
    { maxFragments },
  );
  response.data = decodeBody(raw, state.callerResponseType);
}

function withStatus(err: SignatureError, status: number | undefined, cause: unknown): SignatureError {
  const e = new SignatureError(err.code, err.message, [...err.details, ...(status !== undefined ? [`status: ${status}`] : [])], { cause });
  return e;
}

/** Install the DSKE-Signature request and response interceptors on an axios instance. */
export function installSignatureInterceptors(instance: AxiosInstance, options: SignatureInterceptorOptions): void {
  instance.interceptors.request.use(async (config: InternalAxiosRequestConfig) => {
    const peer = await options.resolvePeer(config);
    const scheme = getScheme(peer.scheme);

    const url = new URL(instance.getUri(config));
    config.url = url.href;
    config.baseURL = undefined;
    config.params = undefined;
    const method = (config.method ?? "get").toUpperCase();
    const path = url.pathname;
    const query = url.search.startsWith("?") ? url.search.slice(1) : url.search;

    const body = serializeBody(config);
    config.data = body.length > 0 ? body : undefined;
    config.transformRequest = [];

    const material = await allocateSigningKey(scheme, peer.localPool, `sign request ${method} ${path}`);
    let tag: Uint8Array;
    try {
      tag = scheme.sign(material.key, requestParts(scheme.name, { method, path, query, body, allocation: material.allocationString }));
    } finally {
      material.key.fill(0);
    }
    config.headers.set(SIGNATURE_HEADER, formatSignatureHeader({ allocation: material.allocationString, tag }));

    (config as ConfigWithState)[STATE] = { peer, requestTag: tag, callerResponseType: config.responseType, path };
    config.responseType = "arraybuffer";
    config.transformResponse = [];
    return config;
  });

  instance.interceptors.response.use(
    async (response: AxiosResponse) => {
      const state = (response.config as ConfigWithState)[STATE];
      if (!state) return response;
      try {
        await verifyResponse(response, state, options.maxFragments);
      } catch (err) {
        if (err instanceof SignatureError) throw withStatus(err, response.status, err);
        throw err;
      }
      return response;
    },
    async (error: AxiosError) => {
      const response = error.response;
      const state = error.config ? (error.config as ConfigWithState)[STATE] : undefined;
      if (!response || !state) throw error;
      const signed = headerValue(response) !== undefined;
      if (!signed && state.peer.scheme === "hmac-sha256") {
        // v1 (reference): error responses are unsigned. Decode for the caller; still unauthenticated.
        response.data = decodeBody(toBuffer(response.data), state.callerResponseType);
        throw error;
      }
      try {
        await verifyResponse(response, state, options.maxFragments);
      } catch (err) {
        if (err instanceof SignatureError) throw withStatus(err, response.status, error);
        throw err;
      }
      throw error; // authenticated error response: the caller sees the AxiosError with decoded data
    },
  );
}
