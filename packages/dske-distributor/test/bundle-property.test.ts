/**
 * Properties over random bundles: whatever the blocks, a sealed bundle opens to the same blocks;
 * any single-bit change is refused — by the SHA-256, and for seq ≥ 2 by the tag even when the
 * attacker recomputes the SHA-256.
 */
import fc from "fast-check";
import { BUNDLE_ERROR_CODES, BundleError, openBundle, sealBundle, type SealBlock } from "../src/index.js";
import { ISSUED_AT, fixSha, flipBit, uuidFor } from "./helpers.js";

const blockArb = fc.record({
  pool_owner: fc.constantFrom("client" as const, "hub" as const),
  data: fc.uint8Array({ minLength: 1, maxLength: 90 }),
  prefixFraction: fc.double({ min: 0, max: 1, noNaN: true }),
});

const bundleArb = fc.record({
  seq: fc.integer({ min: 1, max: 1_000_000 }),
  blocks: fc.array(blockArb, { minLength: 1, maxLength: 5 }),
  chainKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  nextChainKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  hub: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
  client: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
});

type Case = {
  seq: number;
  blocks: { pool_owner: "client" | "hub"; data: Uint8Array; prefixFraction: number }[];
  chainKey: Uint8Array;
  nextChainKey: Uint8Array;
  hub: string;
  client: string;
};

function seal(c: Case): { bytes: Uint8Array; blocks: SealBlock[] } {
  const blocks = c.blocks.map((b, i) => ({
    block_uuid: uuidFor(i + 1),
    pool_owner: b.pool_owner,
    key_prefix: Math.min(b.data.length - 1, Math.floor(b.prefixFraction * b.data.length)),
    data: b.data,
  }));
  const bytes = sealBundle({
    hub_name: c.hub,
    client_name: c.client,
    seq: c.seq,
    issued_at: ISSUED_AT,
    auth_scheme: "gf128",
    blocks,
    ...(c.seq > 1 ? { chainKey: c.chainKey } : {}),
    nextChainKey: c.nextChainKey,
  });
  return { bytes, blocks };
}

const open = (c: Case, bytes: Uint8Array) =>
  openBundle(bytes, { clientName: c.client, hubName: c.hub, expectedSeq: c.seq, ...(c.seq > 1 ? { chainKey: c.chainKey } : {}) });

/** Keys equal by chance would make sealBundle refuse (nextChainKey must be fresh). */
const distinctKeys = (c: Case): boolean => Buffer.compare(c.chainKey, c.nextChainKey) !== 0;

test("round trip: the opened bundle holds exactly the sealed blocks and next chain key", () => {
  fc.assert(
    fc.property(bundleArb, (c) => {
      fc.pre(distinctKeys(c));
      const { bytes, blocks } = seal(c);
      const opened = open(c, bytes);
      expect(opened.header).toMatchObject({ hub_name: c.hub, client_name: c.client, seq: c.seq });
      expect(opened.blocks).toEqual(blocks.map((b) => ({ ...b, data: Uint8Array.from(b.data) })));
      expect(Buffer.compare(opened.nextChainKey, c.nextChainKey)).toBe(0);
    }),
    { numRuns: 100 },
  );
});

test("a single flipped bit anywhere is refused (corrupt, truncated or bad_tag)", () => {
  fc.assert(
    fc.property(
      bundleArb.map((c) => ({ ...c, seq: c.seq === 1 ? 2 : c.seq })),
      fc.nat(),
      (c, r) => {
        fc.pre(distinctKeys(c));
        const { bytes } = seal(c);
        const bit = r % (bytes.length * 8);
        let err: unknown;
        try {
          open(c, flipBit(bytes, bit));
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(BundleError);
        expect(["corrupt", "truncated", "bad_tag"]).toContain((err as BundleError).code);
      },
    ),
    { numRuns: 150 },
  );
});

test("seq ≥ 2: a flipped bit with the SHA-256 recomputed is still refused (by the tag, or earlier checks)", () => {
  fc.assert(
    fc.property(
      bundleArb.map((c) => ({ ...c, seq: c.seq === 1 ? 2 : c.seq })),
      fc.nat(),
      (c, r) => {
        fc.pre(distinctKeys(c));
        const { bytes } = seal(c);
        const bit = r % ((bytes.length - 48) * 8); // anything the SHA-256 covers
        let err: unknown;
        try {
          open(c, fixSha(flipBit(bytes, bit)));
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(BundleError);
        expect(BUNDLE_ERROR_CODES).toContain((err as BundleError).code);
        // A flip in the block bytes or the next chain key leaves the structure intact: the tag is what refuses it.
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        const payloadStart = 12 + view.getUint32(8, false);
        if (bit >= payloadStart * 8) expect((err as BundleError).code).toBe("bad_tag");
      },
    ),
    { numRuns: 150 },
  );
});
