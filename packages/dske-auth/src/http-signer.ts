/**
 * Transport-agnostic DSKE-Signature for the caller side: sign an outgoing request and verify its
 * response, for HTTP clients other than axios (e.g. node:http on the in-band hot path). Same
 * bytes, same pools and the same order of work as the axios interceptors (axios.ts):
 *
 * - `signRequest`: allocate the signing material from `peer.localPool` (durably consumed before
 *   the tag exists), tag method/path/query/body/allocation, return the header value and the tag.
 * - `verifyResponse`: reserve the named bytes in `peer.peerPool` WITHOUT consuming, verify, then
 *   commit (consume) — or release on failure, leaving the pool as it was. With `deferCommit` the
 *   commit is started (its journal record is queued in this turn of the event loop) but not
 *   awaited: the caller gets the commit promise and MUST await it before anything derived from
 *   the response leaves the process. A caller that consumes more PSRD from the same pool in the
 *   same turn (e.g. the one-time pads named in the body) then shares one journal commit.
 */
import { SignatureError } from "./errors";
import { allocateSigningKey, reserveVerifyingKey } from "./keys";
import { getScheme, requestParts, responseParts } from "./message";
import type { PeerAuth } from "./peer";
import { formatSignatureHeader, parseSignatureHeader } from "./signature";

export interface OutgoingRequest {
  method: string;
  /** URL path exactly as sent (e.g. `/hub/hank/dske/api/v1/key-share`). */
  path: string;
  /** Raw query string without `?` ("" if none). */
  query: string;
  /** Body bytes exactly as sent (empty if none). */
  body: Uint8Array;
}

export interface SignedOutgoing {
  /** Value of the DSKE-Signature header. */
  header: string;
  /** The request's tag (bound by the response signature). */
  requestTag: Uint8Array;
}

/** Sign an outgoing request (consumes PSRD from peer.localPool). Throws SignatureError("psrd_exhausted"). */
export async function signRequest(peer: PeerAuth, request: OutgoingRequest): Promise<SignedOutgoing> {
  const scheme = getScheme(peer.scheme);
  const method = request.method.toUpperCase();
  const material = await allocateSigningKey(scheme, peer.localPool, `sign request ${method} ${request.path}`);
  try {
    const tag = scheme.sign(
      material.key,
      requestParts(scheme.name, {
        method,
        path: request.path,
        query: request.query,
        body: request.body,
        allocation: material.allocationString,
      }),
    );
    return { header: formatSignatureHeader({ allocation: material.allocationString, tag }), requestTag: tag };
  } finally {
    material.key.fill(0);
  }
}

export interface IncomingResponse {
  status: number;
  /** DSKE-Signature header value (undefined if absent → SignatureError). */
  header: string | undefined;
  body: Uint8Array;
  requestTag: Uint8Array;
  /** For the pool's audit purpose. */
  path: string;
}

export interface VerifyResponseOptions {
  maxFragments?: number;
  /** Start the consumption commit but do not await it; see module comment. */
  deferCommit?: boolean;
}

/**
 * Verify a response signature. Resolves once the consumption is durable, or — with
 * `deferCommit` — at once with `{ committed }`, which the caller must await.
 */
export async function verifyResponse(
  peer: PeerAuth,
  response: IncomingResponse,
  options: VerifyResponseOptions = {},
): Promise<{ committed: Promise<void> }> {
  const scheme = getScheme(peer.scheme);
  const sig = parseSignatureHeader(response.header, { scheme: scheme.name, maxFragments: options.maxFragments });
  const { key, reservation } = await reserveVerifyingKey(scheme, peer.peerPool, sig.allocation, `verify response ${response.path}`);
  let ok: boolean;
  try {
    const parts = responseParts(scheme.name, {
      status: response.status,
      requestTag: response.requestTag,
      body: response.body,
      allocation: sig.allocationString,
    });
    ok = scheme.verify(key, parts, sig.tag);
  } finally {
    key.fill(0);
  }
  if (!ok) {
    reservation.release();
    throw new SignatureError("bad_tag", "The response signature does not verify", [`status: ${response.status}`]);
  }
  const committed = reservation.commit();
  if (options.deferCommit) {
    committed.catch(() => undefined); // the caller awaits it; never an unhandled rejection
    return { committed };
  }
  await committed;
  return { committed };
}
