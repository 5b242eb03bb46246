/**
 * ETSI GS QKD 014 V1.1.1: data formats (clause 6) as zod 4 schemas, request parsing and
 * validation. Field names and casing exactly as the standard (`key_ID`, `key_IDs`,
 * `master_SAE_ID`, `slave_SAE_ID`, `source_KME_ID`, `target_KME_ID`, `max_SAE_ID_count`,
 * `additional_slave_SAE_IDs`; everything else snake_case).
 *
 * No HTTP here: the router hands raw query objects / parsed bodies to these functions; every
 * failure is a `KmeError` of kind `invalid-request` (HTTP 400) with `{message, details}`.
 */
import type { z } from "zod";
import { KeyIdSchema, KeyIdsSchema, KeyRequestSchema, SaeIdSchema, type KeyRequest } from "@dske/protocol";
import { badRequest, type KmeErrorDetail } from "./errors.js";

// ---------------------------------------------------------------------------------------------
// Limits

/** What this KME supports (reported by Get status). Sizes in bits. */
export interface EtsiLimits {
  /** Default key size (`key_size`), bits. */
  defaultKeySize: number;
  minKeySize: number;
  maxKeySize: number;
  /** Max `number` per request (`max_key_per_request`). */
  maxKeyPerRequest: number;
  /** Max length of `additional_slave_SAE_IDs` (`max_SAE_ID_count`). */
  maxSaeIdCount: number;
}

export const DEFAULT_ETSI_LIMITS: Readonly<EtsiLimits> = Object.freeze({
  defaultKeySize: 256,
  minKeySize: 32,
  maxKeySize: 65536,
  maxKeyPerRequest: 1000,
  maxSaeIdCount: 16,
});

/** Check a limits object (e.g. from options) for internal consistency. */
export function checkLimits(limits: EtsiLimits): EtsiLimits {
  const { defaultKeySize, minKeySize, maxKeySize, maxKeyPerRequest, maxSaeIdCount } = limits;
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`ETSI limit ${name} must be a non-negative integer`);
  }
  if (minKeySize < 8 || minKeySize % 8 !== 0 || maxKeySize % 8 !== 0) {
    throw new RangeError("ETSI key sizes must be multiples of 8 bits, at least 8");
  }
  if (!(minKeySize <= defaultKeySize && defaultKeySize <= maxKeySize) || defaultKeySize % 8 !== 0) {
    throw new RangeError("ETSI limits must satisfy min_key_size <= key_size <= max_key_size");
  }
  if (maxKeyPerRequest < 1) throw new RangeError("max_key_per_request must be at least 1");
  if (maxSaeIdCount > 64) throw new RangeError("max_SAE_ID_count must be at most 64 (hub wire limit)");
  return limits;
}

// ---------------------------------------------------------------------------------------------
// Parsed, validated requests (domain input)

export interface EncKeysRequest {
  number: number;
  /** Bits. */
  size: number;
  additionalSlaves: string[];
}

export interface DecKeysRequest {
  keyIds: string[];
}

/** zod issues → ETSI details (`[{parameter, problem}]`). */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[], prefix = ""): KmeErrorDetail[] {
  return issues.map((i) => ({
    parameter: prefix + (i.path.length > 0 ? i.path.map(String).join(".") : "(root)"),
    problem: i.message,
  }));
}

/** Validate an SAE ID taken from a URL path or a body. */
export function parseSaeId(value: unknown, what: string): string {
  const r = SaeIdSchema.safeParse(value);
  if (!r.success) {
    throw badRequest(`invalid ${what}`, issuesToDetails(r.error.issues, what));
  }
  return r.data;
}

/** Validate one key_ID. */
export function parseKeyId(value: unknown, what = "key_ID"): string {
  const r = KeyIdSchema.safeParse(value);
  if (!r.success) throw badRequest(`invalid ${what}`, issuesToDetails(r.error.issues, what));
  return r.data;
}

const decimal = /^[0-9]{1,9}$/;

/** GET enc_keys: only `number` and `size` are allowed (clause 5.2), as decimal strings. */
export function parseEncKeysQuery(query: Record<string, unknown>, limits: EtsiLimits): EncKeysRequest {
  const unknown = Object.keys(query).filter((k) => k !== "number" && k !== "size");
  if (unknown.length > 0) {
    throw badRequest("bad request format: GET enc_keys accepts only the query parameters number and size", [
      { unsupported_parameters: unknown },
    ]);
  }
  const out: KeyRequest = {};
  for (const name of ["number", "size"] as const) {
    const v = query[name];
    if (v === undefined) continue;
    if (typeof v !== "string" || !decimal.test(v)) {
      throw badRequest(`bad request format: ${name} must be a non-negative decimal integer`, [
        { parameter: name, value: typeof v === "string" ? v : JSON.stringify(v) },
      ]);
    }
    out[name] = Number(v);
  }
  return checkKeyRequest(out, limits);
}

/** POST enc_keys body. */
export function parseEncKeysBody(body: unknown, limits: EtsiLimits): EncKeysRequest {
  const r = KeyRequestSchema.safeParse(body ?? {});
  if (!r.success) throw badRequest("bad request format", issuesToDetails(r.error.issues));
  return checkKeyRequest(r.data, limits);
}

/** Semantic checks of a key request (clause 5.2, 6.2). */
export function checkKeyRequest(request: KeyRequest, limits: EtsiLimits): EncKeysRequest {
  if (request.extension_mandatory && request.extension_mandatory.length > 0) {
    // This KME supports no mandatory extension: name every one the SAE asked for.
    const names = request.extension_mandatory.flatMap((e) => Object.keys(e));
    throw badRequest("not all extension_mandatory parameters are supported", [{ unsupported_extension_mandatory: names }]);
  }
  // extension_optional: ignored (200 is allowed by the standard).
  const number = request.number ?? 1;
  if (number < 1) {
    throw badRequest("number must be at least 1", [{ parameter: "number", value: number }]);
  }
  if (number > limits.maxKeyPerRequest) {
    throw badRequest(`number exceeds max_key_per_request (${limits.maxKeyPerRequest})`, [
      { parameter: "number", value: number, max_key_per_request: limits.maxKeyPerRequest },
    ]);
  }
  const size = request.size ?? limits.defaultKeySize;
  if (size % 8 !== 0) {
    throw badRequest("size shall be a multiple of 8", [{ parameter: "size", value: size }]);
  }
  if (size < limits.minKeySize || size > limits.maxKeySize) {
    throw badRequest(`size must be between min_key_size (${limits.minKeySize}) and max_key_size (${limits.maxKeySize})`, [
      { parameter: "size", value: size, min_key_size: limits.minKeySize, max_key_size: limits.maxKeySize },
    ]);
  }
  const additional = request.additional_slave_SAE_IDs ?? [];
  if (additional.length > limits.maxSaeIdCount) {
    throw badRequest(`additional_slave_SAE_IDs exceeds max_SAE_ID_count (${limits.maxSaeIdCount})`, [
      { parameter: "additional_slave_SAE_IDs", count: additional.length, max_SAE_ID_count: limits.maxSaeIdCount },
    ]);
  }
  const additionalSlaves = additional.map((id, i) => parseSaeId(id, `additional_slave_SAE_IDs.${i}`));
  return { number, size, additionalSlaves };
}

/** GET dec_keys: exactly one `key_ID` query parameter, nothing else. */
export function parseDecKeysQuery(query: Record<string, unknown>, limits: EtsiLimits): DecKeysRequest {
  const unknown = Object.keys(query).filter((k) => k !== "key_ID");
  if (unknown.length > 0) {
    throw badRequest("bad request format: GET dec_keys accepts only the query parameter key_ID", [{ unsupported_parameters: unknown }]);
  }
  const v = query.key_ID;
  if (v === undefined) throw badRequest("bad request format: key_ID is required", [{ parameter: "key_ID" }]);
  if (typeof v !== "string") {
    throw badRequest("bad request format: GET dec_keys takes exactly one key_ID (use POST for several)", [{ parameter: "key_ID" }]);
  }
  return checkKeyIds([v], limits);
}

/** POST dec_keys body (6.4). */
export function parseDecKeysBody(body: unknown, limits: EtsiLimits): DecKeysRequest {
  const r = KeyIdsSchema.safeParse(body);
  if (!r.success) throw badRequest("bad request format", issuesToDetails(r.error.issues));
  return checkKeyIds(
    r.data.key_IDs.map((k) => k.key_ID),
    limits,
  );
}

function checkKeyIds(ids: string[], limits: EtsiLimits): DecKeysRequest {
  if (ids.length > limits.maxKeyPerRequest) {
    throw badRequest(`too many key_IDs (max_key_per_request is ${limits.maxKeyPerRequest})`, [{ parameter: "key_IDs", count: ids.length }]);
  }
  const keyIds = ids.map((id, i) => parseKeyId(id, ids.length === 1 ? "key_ID" : `key_IDs.${i}.key_ID`));
  const seen = new Set<string>();
  for (const id of keyIds) {
    if (seen.has(id)) throw badRequest("bad request format: duplicate key_ID", [{ key_ID: id }]);
    seen.add(id);
  }
  return { keyIds };
}

// ---------------------------------------------------------------------------------------------
// Calling SAE identity

/**
 * The calling SAE from the `Authorization` header (no TLS; the reference does the same):
 * `Authorization: <sae>` or `Authorization: Bearer <sae>`. Returns undefined when missing/empty.
 */
export function saeIdFromAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let v = header.trim();
  const m = /^bearer(?:\s+(.*))?$/i.exec(v);
  if (m) {
    v = (m.at(1) ?? "").trim(); // the group after "bearer" is optional
  }
  if (v.length === 0) return undefined;
  return v;
}
