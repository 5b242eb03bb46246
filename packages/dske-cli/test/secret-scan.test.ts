/**
 * The log secret scanner (test/system/secret-scan.ts) finds planted key and PSRD bytes in every
 * encoding and position, and stays quiet on ordinary log lines — so the system test that uses it
 * (test/system/logs.test.ts) can fail.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SecretCorpus, addPsrdSnapshot } from "./system/secret-scan";

const key = randomBytes(32);
const psrd = randomBytes(3000);

function corpus(): SecretCorpus {
  const c = new SecretCorpus();
  c.add("key sam->sunny", key);
  c.add("psrd block", psrd);
  return c;
}

const line = (msg: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ level: "info", time: new Date().toISOString(), kind: "client", node: "carol", req_id: randomUUID(), ...fields, msg });

test("ordinary log lines (UUIDs, paths, numbers, base64 of other data) are clean", () => {
  const text = [
    "listening on http://127.0.0.1:18755",
    line(`POST /client/carol/etsi/api/v1/keys/sunny/enc_keys sae=sam -> 200 (12.3 ms)`),
    line("key reconstructed robustly", { key_id: randomUUID(), reconstruction: "robust", bad_hubs: ["hugo"] }),
    line(`block ${randomUUID()} of 1000 bytes added to pool hub-client-owned.hank`),
    line(`other data ${randomBytes(64).toString("base64")} ${randomBytes(40).toString("hex")}`),
    line(`zeros ${Buffer.alloc(48).toString("base64")}`),
  ].join("\n");
  expect(corpus().scanText(text, "clean.log")).toEqual([]);
});

test.each([
  ["key as base64", () => key.toString("base64")],
  ["key as base64url", () => key.toString("base64url")],
  ["key as hex", () => key.toString("hex")],
  ["key as HEX", () => key.toString("hex").toUpperCase()],
  [
    "16 key bytes inside a longer base64 blob, misaligned",
    () => Buffer.concat([Buffer.from([1]), key.subarray(5, 21), Buffer.from([2, 3])]).toString("base64"),
  ],
  ["PSRD window as base64", () => psrd.subarray(1234, 1250).toString("base64")],
  ["PSRD window as base64url inside text", () => `pad=${psrd.subarray(77, 120).toString("base64url")};`],
  [
    "PSRD window as hex at an odd offset",
    () =>
      `x${Buffer.concat([randomBytes(3), psrd.subarray(2000, 2020)])
        .toString("hex")
        .slice(1)}`,
  ],
  [
    "whole PSRD block as base64 (a logged response body)",
    () => JSON.stringify({ block_uuid: randomUUID(), data: psrd.toString("base64") }),
  ],
])("finds a planted secret: %s", (_what, encode) => {
  const text = [line("fine"), line(`oops ${encode()}`), line("fine again")].join("\n");
  const findings = corpus().scanText(text, "node.log");
  expect(findings.length).toBeGreaterThanOrEqual(1);
  expect(findings[0]).toMatchObject({ source: "node.log", line: 2 });
  expect(["key sam->sunny", "psrd block"]).toContain(findings[0].secret);
});

test("PSRD snapshots are read from FileStore data files; zeroed (consumed) bytes are not indexed", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-scan-"));
  try {
    const pool = path.join(dir, "nodes", "carol", "psrd", "pools", "hub-client-owned.hank");
    mkdirSync(pool, { recursive: true });
    const data = Buffer.concat([Buffer.alloc(1000), psrd.subarray(0, 500)]);
    writeFileSync(path.join(pool, "data.bin"), data);
    writeFileSync(path.join(pool, "journal.bin"), randomBytes(100)); // not PSRD: not indexed
    const c = new SecretCorpus();
    expect(addPsrdSnapshot(c, dir, "t")).toBe(1500);
    expect(c.size).toBe(Math.floor(500 / 8)); // 8-byte anchors of the PSRD; the zero prefix adds none
    expect(c.scanText(psrd.subarray(100, 140).toString("base64"), "x")).toHaveLength(1);
    expect(c.scanText(Buffer.alloc(64).toString("base64"), "x")).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("any 16 PSRD bytes are found, whatever their offset against the 8-byte anchors; 15 are not; nor are 16 with 8 zeros", () => {
  const c = new SecretCorpus();
  const block = Buffer.concat([randomBytes(40), Buffer.alloc(9), randomBytes(40)]);
  c.add("psrd block", block);
  // Random bytes around the piece, except that the bytes next to it differ from the block's own
  // neighbours: a chance match would make the 15-byte piece 16.
  const around = (p: number, size: number) => {
    const before = randomBytes(5);
    const after = randomBytes(3);
    if (p > 0) before[4] = block[p - 1] ^ 0xff;
    after[0] = block[p + size] ^ 0xff;
    return Buffer.concat([before, block.subarray(p, p + size), after]);
  };
  for (let p = 0; p + 16 <= 40; p++) {
    expect([p, c.scanText(around(p, 16).toString("hex"), "x").map((f) => f.secret)]).toEqual([p, ["psrd block"]]);
    expect([p, c.scanText(around(p, 15).toString("hex"), "x")]).toEqual([p, []]);
  }
  // Windows over the 9 zero bytes hold 8 or more zeros: not indexed as secrets.
  expect(c.scanText(block.subarray(38, 54).toString("hex"), "x")).toEqual([]);
  expect(c.scanText(block.subarray(30, 46).toString("hex"), "x")).toHaveLength(1);
});
