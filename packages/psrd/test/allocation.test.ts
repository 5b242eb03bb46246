import fc from "fast-check";
import {
  AllocationJsonSchema,
  PsrdAllocationError,
  allocationFromJson,
  allocationToJson,
  formatAllocation,
  parseAllocation,
  type Allocation,
} from "../src/index.js";

const U1 = "9ad7f620-5a0c-4979-8a2d-66142e06fd79";
const U2 = "cda527e9-5ca7-40d6-a842-0b606597611c";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PsrdAllocationError);
    return (e as PsrdAllocationError).code;
  }
  throw new Error("expected a PsrdAllocationError");
}

describe("header form", () => {
  test("parses the developer guide example", () => {
    const a = parseAllocation(`${U1}:0:20,${U2}:0:12`);
    expect(a.fragments).toEqual([
      { blockUuid: U1, start: 0, size: 20 },
      { blockUuid: U2, start: 0, size: 12 },
    ]);
    expect(formatAllocation(a)).toBe(`${U1}:0:20,${U2}:0:12`);
  });

  test("accepts upper-case UUIDs and normalizes them to lower case", () => {
    const a = parseAllocation(`${U1.toUpperCase()}:5:7`);
    expect(a.fragments[0].blockUuid).toBe(U1);
  });

  test.each([
    ["", "empty"],
    [",", "malformed"],
    [`${U1}:0:20,`, "malformed"],
    [`,${U1}:0:20`, "malformed"],
    [`${U1}:0`, "malformed"],
    [`${U1}:0:1:2`, "malformed"],
    [`${U1};0;20`, "malformed"],
    [`not-a-uuid:0:20`, "invalid_uuid"],
    [`${U1.slice(0, 35)}:0:20`, "invalid_uuid"],
    [`${U1}0:0:20`, "invalid_uuid"],
    [`${U1.replace(/-/g, "")}:0:20`, "invalid_uuid"],
    [`{${U1}}:0:20`, "invalid_uuid"],
    [`${U1.replace("9", "g")}:0:20`, "invalid_uuid"],
    [`${U1}:-1:20`, "invalid_number"],
    [`${U1}:0:-20`, "invalid_number"],
    [`${U1}:+1:20`, "invalid_number"],
    [`${U1}:1e3:20`, "invalid_number"],
    [`${U1}:0x10:20`, "invalid_number"],
    [`${U1}:1.5:20`, "invalid_number"],
    [`${U1}:1.0:20`, "invalid_number"],
    [`${U1}: 1:20`, "invalid_number"],
    [`${U1}:1 :20`, "invalid_number"],
    [`${U1}:01:20`, "invalid_number"],
    [`${U1}::20`, "invalid_number"],
    [`${U1}:0:`, "invalid_number"],
    [`${U1}:99999999999999999:1`, "invalid_number"],
    [`${U1}:Infinity:1`, "invalid_number"],
    [`${U1}:NaN:1`, "invalid_number"],
    [`${U1}:0:0`, "invalid_size"],
    [`${U1}:0:10,${U1}:9:5`, "overlap"],
    [`${U1}:0:10,${U1.toUpperCase()}:5:1`, "overlap"],
    [`${U1}:0:1048577`, "too_many_bytes"],
    [`${U1}:0:1048576,${U2}:0:1`, "too_many_bytes"],
  ])("rejects %j (%s)", (text, code) => {
    expect(codeOf(() => parseAllocation(text))).toBe(code);
  });

  test("adjacent fragments of one block are fine", () => {
    expect(parseAllocation(`${U1}:0:10,${U1}:10:5`).fragments).toHaveLength(2);
  });

  test("default fragment limit is 64, configurable", () => {
    const frag = (i: number) => `${U1}:${i * 2}:1`;
    const t64 = Array.from({ length: 64 }, (_, i) => frag(i)).join(",");
    const t65 = Array.from({ length: 65 }, (_, i) => frag(i)).join(",");
    expect(parseAllocation(t64).fragments).toHaveLength(64);
    expect(codeOf(() => parseAllocation(t65))).toBe("too_many_fragments");
    expect(codeOf(() => parseAllocation(`${frag(0)},${frag(1)},${frag(2)}`, { maxFragments: 2 }))).toBe("too_many_fragments");
    // The separator count is checked before splitting (huge headers are cheap to refuse).
    expect(codeOf(() => parseAllocation(",".repeat(1_000_000)))).toBe("too_many_fragments");
  });

  test("byte limit is configurable", () => {
    expect(parseAllocation(`${U1}:0:100`, { maxBytes: 100 }).fragments).toHaveLength(1);
    expect(codeOf(() => parseAllocation(`${U1}:0:101`, { maxBytes: 100 }))).toBe("too_many_bytes");
  });

  test("errors carry messages without throwing non-typed errors for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseAllocation(s);
        } catch (e) {
          expect(e).toBeInstanceOf(PsrdAllocationError);
          expect((e as Error).message.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});

const fragmentArb = fc.record({
  blockUuid: fc.uuid().map((u) => u.toLowerCase()),
  start: fc.nat({ max: 1_000_000 }),
  size: fc.integer({ min: 1, max: 1000 }),
});
/** Non-overlapping: distinct blocks per fragment, so any start/size combination is valid. */
const allocationArb: fc.Arbitrary<Allocation> = fc
  .uniqueArray(fragmentArb, { minLength: 1, maxLength: 64, selector: (f) => f.blockUuid })
  .map((fragments) => ({ fragments }));

describe("round trips", () => {
  test("header form", () => {
    fc.assert(fc.property(allocationArb, (a) => expect(parseAllocation(formatAllocation(a))).toEqual(a)));
  });
  test("JSON form (value and string)", () => {
    fc.assert(
      fc.property(allocationArb, (a) => {
        const json = allocationToJson(a);
        expect(allocationFromJson(json)).toEqual(a);
        expect(allocationFromJson(JSON.stringify(json))).toEqual(a);
        expect(AllocationJsonSchema.safeParse(json).success).toBe(true);
      }),
    );
  });
});

describe("JSON form", () => {
  const ok = { fragments: [{ block_uuid: U1, start: 16, size: 32 }] };

  test("to and from", () => {
    const a = allocationFromJson(ok);
    expect(a).toEqual({ fragments: [{ blockUuid: U1, start: 16, size: 32 }] });
    expect(allocationToJson(a)).toEqual(ok);
  });

  const frag = (over: Record<string, unknown>) => ({ fragments: [{ block_uuid: U1, start: 0, size: 1, ...over }] });
  test.each([
    ["not JSON", "{", "malformed"],
    ["null", null, "malformed"],
    ["array", [], "malformed"],
    ["no fragments", {}, "malformed"],
    ["fragments not array", { fragments: {} }, "malformed"],
    ["fragment not object", { fragments: [1] }, "malformed"],
    ["empty", { fragments: [] }, "empty"],
    ["bad uuid", frag({ block_uuid: "xyz" }), "invalid_uuid"],
    ["uuid not string", frag({ block_uuid: 5 }), "invalid_uuid"],
    ["missing uuid", { fragments: [{ start: 0, size: 1 }] }, "malformed"],
    ["negative start", frag({ start: -1 }), "invalid_number"],
    ["fractional start", frag({ start: 1.5 }), "invalid_number"],
    ["string start", frag({ start: "1" }), "invalid_number"],
    ["NaN size", frag({ size: Number.NaN }), "invalid_number"],
    ["unsafe start", frag({ start: 2 ** 53 }), "invalid_number"],
    ["negative size", frag({ size: -3 }), "invalid_number"],
    ["zero size", frag({ size: 0 }), "invalid_size"],
    [
      "overlap",
      {
        fragments: [
          { block_uuid: U1, start: 0, size: 4 },
          { block_uuid: U1, start: 3, size: 4 },
        ],
      },
      "overlap",
    ],
    ["too many bytes", frag({ size: 1024 * 1024 + 1 }), "too_many_bytes"],
    [
      "too many fragments",
      { fragments: Array.from({ length: 65 }, (_, i) => ({ block_uuid: U1, start: i, size: 1 })) },
      "too_many_fragments",
    ],
  ])("rejects %s", (_name, json, code) => {
    expect(codeOf(() => allocationFromJson(json))).toBe(code);
  });

  test("limits are configurable", () => {
    const two = {
      fragments: [
        { block_uuid: U1, start: 0, size: 1 },
        { block_uuid: U2, start: 0, size: 1 },
      ],
    };
    expect(codeOf(() => allocationFromJson(two, { maxFragments: 1 }))).toBe("too_many_fragments");
    expect(codeOf(() => allocationFromJson(two, { maxBytes: 1 }))).toBe("too_many_bytes");
    expect(allocationFromJson(two, { maxFragments: 2, maxBytes: 2 }).fragments).toHaveLength(2);
  });

  test("the zod schema refuses what the codec refuses", () => {
    for (const bad of [
      { fragments: [] },
      frag({ block_uuid: "x" }),
      frag({ start: -1 }),
      frag({ size: 0 }),
      frag({ start: 0.5 }),
      {
        fragments: [
          { block_uuid: U1, start: 0, size: 4 },
          { block_uuid: U1, start: 3, size: 4 },
        ],
      },
    ]) {
      expect(AllocationJsonSchema.safeParse(bad).success).toBe(false);
    }
    expect(AllocationJsonSchema.parse(ok)).toEqual(ok);
  });
});
