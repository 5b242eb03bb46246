/** Builders shared by the bundle tests: deterministic blocks, chains of bundles, hand-made (raw) bundles. */
import { createHash, randomBytes } from "node:crypto";
import { bundleTag, newChainKey, sealBundle, type SealBlock, type SealBundleInput } from "../src/index.js";

/** The value, or a thrown error naming what is missing (narrows away undefined). */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

export const ISSUED_AT = "2026-12-03T10:00:00.000Z";

/** Deterministic bytes: block n, `size` bytes. */
export function blockData(n: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (n * 131 + i * 7 + (i >> 8)) & 0xff;
  return out;
}

/** A canonical lower-case UUID for index n. */
export function uuidFor(n: number): string {
  const h = n.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${h}`;
}

/** Three blocks: client-owned with a 16-byte key prefix, hub-owned with one, and a client-owned one without. */
export function someBlocks(base = 1): SealBlock[] {
  return [
    { block_uuid: uuidFor(base), pool_owner: "client", key_prefix: 16, data: blockData(base, 300) },
    { block_uuid: uuidFor(base + 1), pool_owner: "hub", key_prefix: 16, data: blockData(base + 1, 129) },
    { block_uuid: uuidFor(base + 2), pool_owner: "client", key_prefix: 0, data: blockData(base + 2, 17) },
  ];
}

export interface ChainLink {
  seq: number;
  bytes: Uint8Array;
  /** Key that tags this bundle (undefined for seq 1). */
  chainKey: Uint8Array | undefined;
  nextChainKey: Uint8Array;
  blocks: SealBlock[];
}

/** Bundles seq 1..n of one (hub, client) pair, each tagged with the previous one's next chain key. */
export function sealChain(n: number, base: Partial<SealBundleInput> = {}): ChainLink[] {
  const links: ChainLink[] = [];
  let chainKey: Uint8Array | undefined;
  for (let seq = 1; seq <= n; seq++) {
    const nextChainKey = newChainKey(randomBytes);
    const blocks = someBlocks(seq * 10);
    const bytes = sealBundle({
      hub_name: "hank",
      client_name: "curtis",
      auth_scheme: "gf128",
      issued_at: ISSUED_AT,
      ...base,
      seq,
      blocks,
      ...(chainKey !== undefined ? { chainKey } : {}),
      nextChainKey,
    });
    links.push({ seq, bytes, chainKey, nextChainKey, blocks });
    chainKey = nextChainKey;
  }
  return links;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** Recompute the SHA-256 field after tampering (what an attacker can always do). */
export function fixSha(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const end = out.length - 48;
  out.set(sha256(out.subarray(0, end)), end);
  return out;
}

export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

/**
 * A bundle built by hand from any header (object → JSON, or raw bytes) and payload, with a
 * correct SHA-256 and — if a chain key is given — a correct tag: to reach the header checks.
 */
export function rawBundle(header: unknown, payload: Uint8Array, chainKey?: Uint8Array): Uint8Array {
  const headerBytes = header instanceof Uint8Array ? header : new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + headerBytes.length + payload.length + 48);
  out.set(new TextEncoder().encode("DSKEPSRD"), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.length, false);
  out.set(headerBytes, 12);
  out.set(payload, 12 + headerBytes.length);
  const end = 12 + headerBytes.length + payload.length;
  out.set(sha256(out.subarray(0, end)), end);
  if (chainKey !== undefined) out.set(bundleTag(chainKey, headerBytes, payload), end + 32);
  return out;
}

/** A valid header object for seq `seq` with blocks of the given sizes (key_prefix 0). */
export function headerWith(seq: number, sizes: number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    hub_name: "hank",
    client_name: "curtis",
    seq,
    issued_at: ISSUED_AT,
    auth_scheme: "gf128",
    blocks: sizes.map((size, i) => ({ block_uuid: uuidFor(1000 + i), pool_owner: "client", size, key_prefix: 0 })),
    ...extra,
  };
}

/** Payload for blocks of these sizes plus a 32-byte next chain key. */
export function payloadFor(sizes: number[]): Uint8Array {
  return new Uint8Array(sizes.reduce((s, n) => s + n, 0) + 32).fill(0x5a);
}

/** The BundleError code a call throws (fails the test if it does not throw one). */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    const code = (e as { code?: unknown; name?: unknown }).code;
    if ((e as { name?: unknown }).name !== "BundleError" || typeof code !== "string") throw e;
    return code;
  }
  throw new Error("expected a BundleError");
}
