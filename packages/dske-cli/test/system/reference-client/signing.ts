/**
 * The DSKE-Signature of the reference (v1, `hmac-sha256`), as the emulator uses it: the sender
 * allocates a 32-byte key from the pool it owns, tags the message with HMAC-SHA256 (a request over
 * its raw query string followed by its raw body, a response over its raw body) and sends
 * `<allocation>%<base64 tag>`; the receiver takes the same bytes from its copy of that pool.
 * The MAC and the header format come from @dske/auth (proven against the reference); the
 * allocation bookkeeping is the emulator's own (psrd-pool.ts).
 */
import { decodeStrictBase64, formatSignatureHeader, HMAC_SHA256_KEY_LENGTH, hmacSha256Scheme, SIGNATURE_HEADER } from "@dske/auth";
import { allocationString, parseAllocationString, PsrdError, type Pool } from "./psrd-pool";

export { SIGNATURE_HEADER };

export class SignatureCheckError extends Error {
  override readonly name = "SignatureCheckError";
}

/** The DSKE-Signature header value for a request: allocates the key from the local pool. */
export function signRequest(local: Pool, query: string, body: Uint8Array): string {
  const key = local.allocate(HMAC_SHA256_KEY_LENGTH);
  try {
    const tag = hmacSha256Scheme.sign(key.data, [Buffer.from(query, "utf8"), body]);
    return formatSignatureHeader({ allocation: allocationString(key.fragments), tag });
  } finally {
    key.data.fill(0);
  }
}

/** Check a response's DSKE-Signature (over its raw body) with the bytes it names in the peer pool. */
export function verifyResponse(peer: Pool, header: string | null, body: Uint8Array): void {
  if (header === null || header === "") throw new SignatureCheckError("the response has no DSKE-Signature");
  const parts = header.split(/[%;]/);
  if (parts.length !== 2) throw new SignatureCheckError("the response's DSKE-Signature is not <allocation>%<tag>");
  let key;
  try {
    key = peer.take(parseAllocationString(parts[0]));
  } catch (err) {
    throw new SignatureCheckError(`the response's signing key is unusable: ${err instanceof PsrdError ? err.message : String(err)}`);
  }
  try {
    if (key.data.length !== HMAC_SHA256_KEY_LENGTH)
      throw new SignatureCheckError(`the response's signing key has ${key.data.length} bytes`);
    if (!hmacSha256Scheme.verify(key.data, [body], decodeStrictBase64(parts[1]))) {
      throw new SignatureCheckError("the response's DSKE-Signature does not verify");
    }
  } finally {
    key.data.fill(0);
  }
}
