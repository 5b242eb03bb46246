/**
 * The `DSKE-Signature` header: `<allocation>%<base64 tag>`, the allocation being fragments
 * `uuid:start:size` joined by `,` (psrd's allocation string). `;` is accepted as separator too
 * (the developer guide's example); `%` is emitted (the reference code).
 */
import { formatAllocation, parseAllocation, PsrdAllocationError, type Allocation } from "@dske/psrd";
import { SignatureHeaderError } from "./errors";
import { getScheme } from "./message";
import type { AuthSchemeName } from "./scheme";

export const SIGNATURE_HEADER = "DSKE-Signature";
/** Lower-case form (Node's req.headers keys). */
export const SIGNATURE_HEADER_LC = "dske-signature";
/** Default maximum number of fragments in a signature allocation. */
export const DEFAULT_MAX_SIGNATURE_FRAGMENTS = 16;
/** Longest header value accepted (bytes). */
export const MAX_SIGNATURE_HEADER_LENGTH = 8192;

export interface ParsedSignature {
  readonly allocation: Allocation;
  /** The allocation part exactly as received (what gf128 binds). */
  readonly allocationString: string;
  readonly tag: Uint8Array;
}

export interface ParseSignatureOptions {
  /** Expected tag length in bytes (or give `scheme`). */
  tagLength?: number;
  scheme?: AuthSchemeName;
  /** Default DEFAULT_MAX_SIGNATURE_FRAGMENTS. */
  maxFragments?: number;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (with padding, canonical trailing bits) → bytes; throws SignatureHeaderError. */
export function decodeStrictBase64(s: string): Uint8Array {
  if (s.length === 0 || !STRICT_BASE64.test(s)) {
    throw new SignatureHeaderError("bad_base64", "The signature tag is not standard base64 with padding", [
      `tag: ${JSON.stringify(s.slice(0, 100))}`,
    ]);
  }
  const bytes = Buffer.from(s, "base64");
  if (bytes.toString("base64") !== s) {
    throw new SignatureHeaderError("bad_base64", "The signature tag is not canonical base64", [`tag: ${JSON.stringify(s.slice(0, 100))}`]);
  }
  return new Uint8Array(bytes);
}

/** `<allocation>%<base64 tag>`. */
export function formatSignatureHeader(signature: { allocation: Allocation | string; tag: Uint8Array }): string {
  const a = typeof signature.allocation === "string" ? signature.allocation : formatAllocation(signature.allocation);
  return `${a}%${Buffer.from(signature.tag).toString("base64")}`;
}

/** Parse a DSKE-Signature header value strictly; throws SignatureHeaderError with a specific code. */
export function parseSignatureHeader(value: string | string[] | undefined, options: ParseSignatureOptions = {}): ParsedSignature {
  if (value === undefined || value === "") {
    throw new SignatureHeaderError("missing_signature", `Missing ${SIGNATURE_HEADER} header`);
  }
  if (Array.isArray(value)) {
    throw new SignatureHeaderError("malformed_signature", `More than one ${SIGNATURE_HEADER} header`);
  }
  if (value.length > MAX_SIGNATURE_HEADER_LENGTH) {
    throw new SignatureHeaderError("malformed_signature", `${SIGNATURE_HEADER} header too long`, [`length: ${value.length}`]);
  }
  const seps = value.split(/[%;]/).length - 1;
  if (seps !== 1) {
    throw new SignatureHeaderError("malformed_signature", `${SIGNATURE_HEADER} must be <allocation>%<base64 tag>`, [
      `found ${seps} separators ('%' or ';'), expected 1`,
    ]);
  }
  const i = value.search(/[%;]/);
  const allocationString = value.slice(0, i);
  const tagString = value.slice(i + 1);
  const maxFragments = options.maxFragments ?? DEFAULT_MAX_SIGNATURE_FRAGMENTS;
  if (allocationString.length === 0) {
    throw new SignatureHeaderError("bad_allocation", "The signature allocation is empty");
  }
  const fragmentCount = allocationString.split(",").length;
  if (fragmentCount > maxFragments) {
    throw new SignatureHeaderError("too_many_fragments", "The signature allocation has too many fragments", [
      `fragments: ${fragmentCount}, maximum: ${maxFragments}`,
    ]);
  }
  let allocation: Allocation;
  try {
    allocation = parseAllocation(allocationString, { maxFragments });
  } catch (err) {
    if (err instanceof PsrdAllocationError && err.code === "too_many_fragments") {
      throw new SignatureHeaderError("too_many_fragments", "The signature allocation has too many fragments", [err.message], {
        cause: err,
      });
    }
    throw new SignatureHeaderError(
      "bad_allocation",
      "The signature allocation is not valid",
      [err instanceof Error ? err.message : String(err)],
      {
        cause: err,
      },
    );
  }
  const tag = decodeStrictBase64(tagString);
  const tagLength = options.tagLength ?? (options.scheme ? getScheme(options.scheme).tagLength : undefined);
  if (tagLength !== undefined && tag.length !== tagLength) {
    throw new SignatureHeaderError("bad_tag_length", "The signature tag has the wrong length", [
      `got ${tag.length} bytes, expected ${tagLength}`,
    ]);
  }
  return { allocation, allocationString, tag };
}
