/**
 * PSRD bundle files taken apart and put back together by a test (format: the README of
 * @dske/distributor): `"DSKEPSRD"` | u32 BE header length H | header JSON | payload (blocks, then
 * the 32-byte next chain key) | SHA-256 of everything before it | 16-byte tag. Used to damage,
 * cut and forge copies of genuine bundles; never to read PSRD (only the header is decoded).
 */
import { createHash } from "node:crypto";

export interface BundleHeaderJson {
  v: number;
  hub_name: string;
  client_name: string;
  seq: number;
  issued_at: string;
  auth_scheme: string;
  blocks: { block_uuid: string; pool_owner: "client" | "hub"; size: number; key_prefix: number }[];
  enrollment_secret?: string;
}

export interface BundleParts {
  header: BundleHeaderJson;
  /** Offset of the payload (= 12 + header length). */
  payloadAt: number;
  /** Payload length (Σ block sizes + 32). */
  payloadLength: number;
}

const MAGIC = "DSKEPSRD";
const SHA_BYTES = 32;
const TAG_BYTES = 16;

export function bundleParts(bytes: Uint8Array): BundleParts {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.subarray(0, 8).toString("latin1") !== MAGIC) throw new Error("not a PSRD bundle (magic)");
  const h = buf.readUInt32BE(8);
  const header = JSON.parse(buf.subarray(12, 12 + h).toString("utf8")) as BundleHeaderJson;
  const payloadLength = header.blocks.reduce((n, b) => n + b.size, 0) + 32;
  if (buf.length !== 12 + h + payloadLength + SHA_BYTES + TAG_BYTES)
    throw new Error(`bundle length ${buf.length} does not match its header`);
  return { header, payloadAt: 12 + h, payloadLength };
}

/** Bytes of the pool `owner` (block sizes, MAC key prefixes included: what a pool's `size` counts). */
export const poolBytes = (header: BundleHeaderJson, owner: "client" | "hub"): number =>
  header.blocks.filter((b) => b.pool_owner === owner).reduce((n, b) => n + b.size, 0);

export const poolBlocks = (header: BundleHeaderJson, owner: "client" | "hub"): number =>
  header.blocks.filter((b) => b.pool_owner === owner).length;

/** Recompute the SHA-256 (in place): the accident check passes, only the tag can catch a change. */
export function fixSha(bytes: Buffer): Buffer {
  const shaAt = bytes.length - TAG_BYTES - SHA_BYTES;
  createHash("sha256").update(bytes.subarray(0, shaAt)).digest().copy(bytes, shaAt);
  return bytes;
}

/** A copy with the header replaced by `header` (payload, chain key and tag kept), SHA-256 fixed. */
export function withHeader(bytes: Uint8Array, header: BundleHeaderJson): Buffer {
  const { payloadAt } = bundleParts(bytes);
  const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return fixSha(Buffer.concat([src.subarray(0, 8), len, json, src.subarray(payloadAt)]));
}
