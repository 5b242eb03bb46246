export { gf128, GF128_BYTES } from "./gf128";
export { polyHash } from "./polyhash";
export { encodeParts, decodeParts, encodedWordCount } from "./encoding";
export {
  AUTH_SCHEME_NAMES,
  DEFAULT_AUTH_SCHEME,
  isAuthSchemeName,
  constantTimeEqual,
  type AuthSchemeName,
  type MacScheme,
  type SignedRequest,
  type SignedResponse,
} from "./scheme";
export { hmacSha256Scheme, HMAC_SHA256_KEY_LENGTH, HMAC_SHA256_TAG_LENGTH } from "./hmac-sha256";
export { gf128Scheme, GF128_KEY_LENGTH, GF128_TAG_LENGTH, GF128_PAD_LENGTH, GF128_BLOCK_KEY_PREFIX } from "./gf128-scheme";
export { getScheme, blockKeyPrefix, requestParts, responseParts } from "./message";
export type { PeerAuth } from "./peer";
export {
  formatSignatureHeader,
  parseSignatureHeader,
  decodeStrictBase64,
  SIGNATURE_HEADER,
  DEFAULT_MAX_SIGNATURE_FRAGMENTS,
  type ParsedSignature,
  type ParseSignatureOptions,
} from "./signature";
export { SigningReserve } from "./signing-reserve";
export { allocateSigningKey, reserveVerifyingKey, type SigningMaterial, type VerifyingMaterial } from "./keys";
export { secretTagD, makeSecretTag, secretTagSigma, checkSecretTag } from "./secret-tag";
export { createSignatureMiddleware, DEFAULT_MAX_BODY_BYTES, type SignatureMiddlewareOptions } from "./express";
export { installSignatureInterceptors, type SignatureInterceptorOptions } from "./axios";
export {
  signRequest,
  verifyResponse,
  type OutgoingRequest,
  type SignedOutgoing,
  type IncomingResponse,
  type VerifyResponseOptions,
} from "./http-signer";
export { SignatureError, SignatureHeaderError, type SignatureErrorCode } from "./errors";
