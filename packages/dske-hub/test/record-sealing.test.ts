/**
 * Secrets of the hub state at rest in a shared database (storage/epoch-keys.ts,
 * storage/record-sealing.ts): a share value is sealed, readable by every replica that holds a
 * copy of the key file, and unreadable once the ratchet moved past its epoch (the bound the
 * README states: at most 1.75 × the share timeout); the key file then no longer holds the key.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { EpochKeyFileError, EpochKeys } from "../src/storage/epoch-keys";
import { RecordSealer } from "../src/storage/record-sealing";

const T = 60_000; // share timeout
const EPOCH = T / 4;
const KEEP = 5; // as openPgHubState: ceil(T / EPOCH) + 1
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "dske-hub-sealing-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const share = (v: string) => ({ t: "share", m: "carol", k: "key-1", s: "sam", i: 1, sl: ["sunny"], v, e: 0 });

test("a sealed share opens on another replica's copy of the key file, and never after the bound", async () => {
  const t0 = 1_000 * EPOCH + EPOCH / 2;
  const file = path.join(dir, "storage.key");
  const a = await EpochKeys.open(file, { epochMs: EPOCH, keepEpochs: KEEP, now: t0 });
  const copy = path.join(dir, "copy.key");
  copyFileSync(file, copy);
  const b = await EpochKeys.open(copy, { epochMs: EPOCH, keepEpochs: KEEP, now: t0 });
  const value = Buffer.from("the share value, 48 bytes long, a secret!!!!!!!").toString("base64");
  const sealed = new RecordSealer(a, () => t0).seal(share(value)) as Record<string, unknown>;
  expect(JSON.stringify(sealed)).not.toContain(value);
  expect(sealed).not.toHaveProperty("v");
  expect(new RecordSealer(b, () => t0).open(sealed)).toEqual(share(value));
  // Moved to another record, the sealed value does not open (its kind, client and key ID are bound).
  expect(() => new RecordSealer(b, () => t0).open({ ...sealed, k: "key-2" })).toThrow();

  // Still readable just before 1.5 × T; gone at 1.75 × T, from memory and from the key file.
  await b.advance(t0 + 1.5 * T - EPOCH);
  expect(new RecordSealer(b).open(sealed)).toEqual(share(value));
  const before = readFileSync(copy, "utf8");
  await b.advance(t0 + 1.75 * T);
  expect(new RecordSealer(b).open(sealed)).toBeUndefined();
  expect(readFileSync(copy, "utf8")).not.toBe(before);
  const reopened = await EpochKeys.open(copy, { epochMs: EPOCH, keepEpochs: KEEP, now: t0 + 1.75 * T });
  expect(new RecordSealer(reopened).open(sealed)).toBeUndefined();
});

test("chain keys are sealed under the static key and stay readable", async () => {
  const keys = await EpochKeys.open(path.join(dir, "k"), { epochMs: EPOCH, keepEpochs: KEEP, now: 0 });
  const chain = { t: "chain", c: "carol", s: 3, k: Buffer.alloc(32, 9).toString("base64") };
  const sealed = new RecordSealer(keys).seal(chain);
  expect(JSON.stringify(sealed)).not.toContain(chain.k);
  await keys.advance(7 * 24 * 3600 * 1000); // a week later
  expect(new RecordSealer(keys).open(sealed)).toEqual(chain);
});

test("a key file of another epoch length or not a key file: a clear error", async () => {
  const file = path.join(dir, "k");
  await EpochKeys.open(file, { epochMs: EPOCH, keepEpochs: KEEP, now: 0 });
  await expect(EpochKeys.open(file, { epochMs: 2 * EPOCH, keepEpochs: KEEP, now: 0 })).rejects.toThrow(/same --share-timeout-secs/);
  writeFileSync(file, "{}");
  await expect(EpochKeys.open(file, { epochMs: EPOCH, keepEpochs: KEEP, now: 0 })).rejects.toThrow(EpochKeyFileError);
});
