/**
 * The PSRD bundle: the sealed file a hub issues for one client, carried out of band by the local
 * distributor (draft-mwag-dske §7, §11.1).
 *
 *   offset            length   content
 *   0                 8        "DSKEPSRD" (ASCII)
 *   8                 4        H = header length, u32 big-endian (1 ≤ H ≤ 1 MiB)
 *   12                H        header JSON, UTF-8 (bundle-header.ts)
 *   12+H              P        payload: the blocks' bytes in header order, then the 32-byte next chain key
 *   12+H+P            32       SHA-256 of bytes [0, 12+H+P)
 *   12+H+P+32         16       tag = polyHash(c, d, encodeParts([header bytes, payload])),
 *                              (c, d) = chain key of bundle seq−1; 16 zero bytes for seq 1
 *
 * P = Σ block sizes + 32, so the header alone fixes the file's length.
 */
import { createHash } from "node:crypto";
import { constantTimeEqual } from "@dske/auth";
import { BundleError } from "./bundle-error.js";
import {
  BUNDLE_VERSION,
  BundleHeaderSchema,
  MAX_BUNDLE_BLOCKS,
  MAX_BUNDLE_PSRD_BYTES,
  MAX_HEADER_BYTES,
  describeIssues,
  headerPsrdBytes,
  type BundleHeader,
  type BundlePoolOwner,
} from "./bundle-header.js";
import { bundleTag } from "./bundle-tag.js";
import { CHAIN_KEY_BYTES, TAG_BYTES, isChainKey } from "./chain.js";

/** The 8 ASCII bytes every bundle starts with. */
export const BUNDLE_MAGIC = "DSKEPSRD";
const MAGIC = new TextEncoder().encode(BUNDLE_MAGIC);
const PREFIX_BYTES = MAGIC.length + 4;
const SHA256_BYTES = 32;
/** Bytes after the payload: SHA-256 and tag. */
const TRAILER_BYTES = SHA256_BYTES + TAG_BYTES;

/** A block to seal: its bytes and where they go. */
export interface SealBlock {
  block_uuid: string;
  pool_owner: BundlePoolOwner;
  /** Bytes at the start of the block kept as its MAC key (16 for gf128); less than data.length. */
  key_prefix: number;
  data: Uint8Array;
}

export interface SealBundleInput {
  hub_name: string;
  client_name: string;
  /** 1 for the first bundle of this (hub, client) pair, then +1 per bundle. */
  seq: number;
  /** ISO 8601 time of issue; default now. */
  issued_at?: string;
  /** The in-band scheme the client is registered with. */
  auth_scheme: "gf128" | "hmac-sha256";
  /** 64 lower-case hex characters; first bundle only. */
  enrollment_secret?: string;
  blocks: readonly SealBlock[];
  /** The 32-byte chain key that came in bundle seq−1; absent exactly for seq 1. */
  chainKey?: Uint8Array;
  /** A fresh 32-byte chain key (newChainKey) for bundle seq+1; travels inside this bundle. */
  nextChainKey: Uint8Array;
}

export interface OpenBundleOptions {
  /** The receiving client: a bundle for anyone else is refused (`wrong_client`). */
  clientName: string;
  /** The hub the receiver expects, if it knows (`wrong_hub` otherwise). */
  hubName?: string;
  /** Last seq installed from this hub + 1 (1 when there is no chain with it yet). */
  expectedSeq: number;
  /** The chain key from bundle expectedSeq−1; absent exactly when expectedSeq is 1. */
  chainKey?: Uint8Array;
}

/** A block as opened: a private copy of its bytes (the caller zeroes it after installing). */
export interface OpenedBlock {
  block_uuid: string;
  pool_owner: BundlePoolOwner;
  key_prefix: number;
  data: Uint8Array;
}

export interface OpenedBundle {
  header: BundleHeader;
  blocks: OpenedBlock[];
  /** Key for bundle seq+1 (a private copy): store it with the install, destroy the old one. */
  nextChainKey: Uint8Array;
}

function fail(code: BundleError["code"], message: string): never {
  throw new BundleError(code, message);
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/**
 * Length the header claims for the whole file, read from not yet trusted JSON: only to tell a
 * truncated copy from a damaged one. Undefined when the JSON does not say (then the SHA-256 decides).
 */
function claimedLength(parsed: unknown, headerLength: number): number | undefined {
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const blocks = (parsed as { blocks?: unknown }).blocks;
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > MAX_BUNDLE_BLOCKS) return undefined;
  let total = 0;
  for (const b of blocks as unknown[]) {
    const size = typeof b === "object" && b !== null ? (b as { size?: unknown }).size : undefined;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1) return undefined;
    total += size;
    if (total > MAX_BUNDLE_PSRD_BYTES) return undefined;
  }
  return PREFIX_BYTES + headerLength + total + CHAIN_KEY_BYTES + TRAILER_BYTES;
}

interface Frame {
  header: BundleHeader;
  headerBytes: Uint8Array;
  /** Views into the caller's bytes (no copies). */
  payload: Uint8Array;
  tag: Uint8Array;
}

const utf8Fatal = new TextDecoder("utf-8", { fatal: true });

/** Structure, truncation, SHA-256, version, header schema — everything that needs no key. */
function readFrame(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("a bundle is a Uint8Array");
  for (let i = 0; i < Math.min(bytes.length, MAGIC.length); i++) {
    if (bytes[i] !== MAGIC[i]) fail("corrupt", `not a DSKE PSRD bundle: it does not start with "${BUNDLE_MAGIC}"`);
  }
  if (bytes.length < PREFIX_BYTES) {
    fail("truncated", `bundle is truncated: ${bytes.length} bytes, not even its ${PREFIX_BYTES}-byte prefix; copy the whole file again`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, false);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) {
    fail("corrupt", `bundle is corrupt: header length ${headerLength} is not in 1..${MAX_HEADER_BYTES}`);
  }
  const minimum = PREFIX_BYTES + headerLength + 1 + CHAIN_KEY_BYTES + TRAILER_BYTES;
  if (bytes.length < minimum) {
    fail(
      "truncated",
      `bundle is truncated: ${bytes.length} bytes, too short for its ${headerLength}-byte header; copy the whole file again`,
    );
  }
  const headerBytes = bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength);
  let parsed: unknown;
  let parsedOk = true;
  try {
    parsed = JSON.parse(utf8Fatal.decode(headerBytes));
  } catch {
    // Not the parser's message: it quotes the input, and a first bundle's header holds a secret.
    parsedOk = false;
  }
  const expected = parsedOk ? claimedLength(parsed, headerLength) : undefined;
  if (expected !== undefined && bytes.length < expected) {
    fail("truncated", `bundle is truncated: ${bytes.length} of ${expected} bytes; copy the whole file again`);
  }
  if (expected !== undefined && bytes.length > expected) {
    fail("corrupt", `bundle is corrupt: ${bytes.length - expected} bytes after its end; copy the file again from the hub's outbox`);
  }
  const hashed = bytes.length - TRAILER_BYTES;
  const digest = sha256(bytes.subarray(0, hashed));
  if (!constantTimeEqual(digest, bytes.subarray(hashed, hashed + SHA256_BYTES))) {
    fail(
      "corrupt",
      "bundle is corrupt: its SHA-256 does not match (damaged in transit or storage); copy the file again from the hub's outbox",
    );
  }
  if (!parsedOk) fail("corrupt", "bundle is corrupt: its header is not UTF-8 JSON; ask the hub's operator to issue a new bundle");
  const version = typeof parsed === "object" && parsed !== null ? (parsed as { v?: unknown }).v : undefined;
  if (version !== BUNDLE_VERSION) {
    fail(
      typeof version === "number" ? "unsupported" : "corrupt",
      typeof version === "number"
        ? `bundle format version ${version} is not supported (this build reads version ${BUNDLE_VERSION}); upgrade @dske/distributor on the receiving side`
        : 'bundle is corrupt: its header has no format version "v"',
    );
  }
  const result = BundleHeaderSchema.safeParse(parsed);
  if (!result.success)
    fail("corrupt", `bundle header is invalid: ${describeIssues(result.error)}; ask the hub's operator to issue a new bundle`);
  const header = result.data;
  const payloadLength = headerPsrdBytes(header) + CHAIN_KEY_BYTES;
  if (PREFIX_BYTES + headerLength + payloadLength + TRAILER_BYTES !== bytes.length) {
    fail("corrupt", "bundle is corrupt: its length does not match its header"); // unreachable after claimedLength; kept as a guard
  }
  const payloadStart = PREFIX_BYTES + headerLength;
  return {
    header,
    headerBytes,
    payload: bytes.subarray(payloadStart, payloadStart + payloadLength),
    tag: bytes.subarray(bytes.length - TAG_BYTES),
  };
}

/**
 * Read a bundle's header without a key (to route it: which hub, which client, which seq).
 * Checks structure, truncation, SHA-256, version and schema; NOT the tag, so nothing in the
 * result is authenticated yet.
 */
export function peekBundleHeader(bytes: Uint8Array): BundleHeader {
  return readFrame(bytes).header;
}

/**
 * Check a bundle completely and return its blocks and next chain key. Order of checks:
 * structure/truncation → SHA-256 → version/header schema → client → hub → seq → tag.
 * Throws BundleError; nothing is returned (and no copy of PSRD is made) unless every check passed.
 */
export function openBundle(bytes: Uint8Array, options: OpenBundleOptions): OpenedBundle {
  const { clientName, hubName, expectedSeq, chainKey } = options;
  if (!Number.isSafeInteger(expectedSeq) || expectedSeq < 1) throw new RangeError("expectedSeq must be an integer ≥ 1");
  if (expectedSeq === 1 && chainKey !== undefined) {
    throw new TypeError("chainKey must be absent when expectedSeq is 1 (a first bundle is trusted physically)");
  }
  if (expectedSeq > 1 && !isChainKey(chainKey)) {
    throw new TypeError(
      `chainKey (${CHAIN_KEY_BYTES} bytes, from bundle ${expectedSeq - 1}) is required when expectedSeq is ${expectedSeq}`,
    );
  }
  const { header, headerBytes, payload, tag } = readFrame(bytes);
  const hub = header.hub_name;
  const seq = header.seq;
  if (header.client_name !== clientName) {
    fail(
      "wrong_client",
      `bundle seq ${seq} from hub ${hub} is for client ${header.client_name}, not ${clientName}: deliver it to ${header.client_name}`,
    );
  }
  if (hubName !== undefined && hub !== hubName) {
    fail(
      "wrong_hub",
      `bundle seq ${seq} is from hub ${hub}, not from hub ${hubName}: install it as a bundle of hub ${hub}, or get the bundle hub ${hubName} issued`,
    );
  }
  if (seq < expectedSeq) {
    fail(
      "replayed",
      seq === 1
        ? `bundle seq 1 from hub ${hub} is a first bundle, but the chain with hub ${hub} already exists (next expected seq ${expectedSeq}): it is a replay; discard it`
        : `bundle seq ${seq} from hub ${hub} was already installed (next expected seq ${expectedSeq}): it is a replay; discard it`,
    );
  }
  if (seq > expectedSeq) {
    const missing = seq - 1 === expectedSeq ? `seq ${expectedSeq}` : `seq ${expectedSeq}..${seq - 1}`;
    fail("out_of_order", `bundle seq ${seq} from hub ${hub} is out of order: install ${missing} first`);
  }
  if (seq === 1) {
    // Trusted physically: the tag field is fixed at zero (a non-zero tag means the file was altered).
    if (!constantTimeEqual(tag, new Uint8Array(TAG_BYTES))) {
      fail("bad_tag", `bundle seq 1 from hub ${hub} must carry an all-zero tag and does not: it was altered; do not install it`);
    }
  } else {
    // Unreachable: expectedSeq > 1 (seq equals it here) required a chain key above.
    if (chainKey === undefined) throw new TypeError(`chainKey is required to check bundle seq ${seq}`);
    const expectedTag = bundleTag(chainKey, headerBytes, payload);
    const ok = constantTimeEqual(expectedTag, tag);
    expectedTag.fill(0);
    if (!ok) {
      fail(
        "bad_tag",
        `bundle seq ${seq} from hub ${hub} fails its integrity tag: it was altered, or hub ${hub} did not issue it for this chain; do not install it (an intact copy of the file the hub issued will verify)`,
      );
    }
  }
  const blocks: OpenedBlock[] = [];
  let off = 0;
  for (const b of header.blocks) {
    blocks.push({ block_uuid: b.block_uuid, pool_owner: b.pool_owner, key_prefix: b.key_prefix, data: payload.slice(off, off + b.size) });
    off += b.size;
  }
  return { header, blocks, nextChainKey: payload.slice(off, off + CHAIN_KEY_BYTES) };
}

function sealInputError(message: string): never {
  throw new RangeError(`cannot seal bundle: ${message}`);
}

/**
 * Build a bundle. The result holds PSRD in clear: write it to the medium (writeBundleFile), then
 * zero it. The caller keeps `nextChainKey` (to seal bundle seq+1) and destroys `chainKey`.
 */
export function sealBundle(input: SealBundleInput): Uint8Array {
  // JavaScript callers may pass anything: check the shape the types promise.
  const blocks: unknown = input.blocks;
  if (!Array.isArray(blocks) || blocks.length === 0) sealInputError("blocks must be a non-empty array");
  input.blocks.forEach((b: { data: unknown; block_uuid: unknown }, i) => {
    if (!(b.data instanceof Uint8Array)) sealInputError(`blocks.${i}.data must be a Uint8Array`);
    if (typeof b.block_uuid !== "string") sealInputError(`blocks.${i}.block_uuid must be a string`);
  });
  const header: BundleHeader = {
    v: BUNDLE_VERSION,
    hub_name: input.hub_name,
    client_name: input.client_name,
    seq: input.seq,
    issued_at: input.issued_at ?? new Date().toISOString(),
    auth_scheme: input.auth_scheme,
    blocks: input.blocks.map((b) => ({
      block_uuid: b.block_uuid.toLowerCase(),
      pool_owner: b.pool_owner,
      size: b.data.length,
      key_prefix: b.key_prefix,
    })),
    ...(input.enrollment_secret !== undefined ? { enrollment_secret: input.enrollment_secret } : {}),
  };
  const checked = BundleHeaderSchema.safeParse(header);
  if (!checked.success) sealInputError(describeIssues(checked.error));
  const { chainKey, nextChainKey } = input;
  if (header.seq === 1 && chainKey !== undefined) sealInputError("seq 1 has no predecessor: chainKey must be absent");
  if (header.seq > 1 && !isChainKey(chainKey))
    sealInputError(`seq ${header.seq} needs the ${CHAIN_KEY_BYTES}-byte chain key of bundle ${header.seq - 1}`);
  if (!isChainKey(nextChainKey)) sealInputError(`nextChainKey must be ${CHAIN_KEY_BYTES} bytes`);
  if (chainKey !== undefined && constantTimeEqual(chainKey, nextChainKey))
    sealInputError("nextChainKey must be fresh, not the current chain key");

  // The header bytes may hold the enrollment secret (seq 1): zeroed below, like every copy made here.
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  if (headerBytes.length > MAX_HEADER_BYTES) {
    headerBytes.fill(0);
    sealInputError(`header is ${headerBytes.length} bytes, more than ${MAX_HEADER_BYTES} (1 MiB)`);
  }
  const payloadLength = headerPsrdBytes(header) + CHAIN_KEY_BYTES;
  const out = new Uint8Array(PREFIX_BYTES + headerBytes.length + payloadLength + TRAILER_BYTES);
  try {
    out.set(MAGIC, 0);
    new DataView(out.buffer).setUint32(MAGIC.length, headerBytes.length, false);
    out.set(headerBytes, PREFIX_BYTES);
    let off = PREFIX_BYTES + headerBytes.length;
    const payloadStart = off;
    for (const b of input.blocks) {
      out.set(b.data, off);
      off += b.data.length;
    }
    out.set(nextChainKey, off);
    off += CHAIN_KEY_BYTES;
    out.set(sha256(out.subarray(0, off)), off);
    if (chainKey !== undefined) {
      const tag = bundleTag(chainKey, headerBytes, out.subarray(payloadStart, payloadStart + payloadLength));
      out.set(tag, off + SHA256_BYTES);
      tag.fill(0);
    }
    return out;
  } catch (e) {
    out.fill(0);
    throw e;
  } finally {
    headerBytes.fill(0);
  }
}
