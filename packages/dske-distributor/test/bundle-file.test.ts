import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BundleFileError, destroyBundleFile, openBundle, peekBundleHeader, readBundleFile, writeBundleFile } from "../src/index.js";
import { sealChain } from "./helpers.js";

let dir = "";
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dske-bundle-file-"));
});
afterEach(() => {
  fs.chmodSync(dir, 0o700);
  fs.rmSync(dir, { recursive: true, force: true });
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

async function errorOf(p: Promise<unknown>): Promise<BundleFileError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BundleFileError);
    return e as BundleFileError;
  }
  throw new Error("expected a BundleFileError");
}

test("write: mode 0600 whatever the umask, complete content, no temporary file left", async () => {
  const [first] = sealChain(1);
  const file = path.join(dir, "hank-curtis-1.dskepsrd");
  const old = process.umask(0o000);
  try {
    await writeBundleFile(file, first.bytes);
  } finally {
    process.umask(old);
  }
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(dir)).toEqual(["hank-curtis-1.dskepsrd"]);
  const back = await readBundleFile(file);
  expect(hex(back)).toBe(hex(first.bytes));
  expect(openBundle(back, { clientName: "curtis", expectedSeq: 1 }).blocks).toHaveLength(3);
});

test("write replaces an existing file atomically (rename), still 0600", async () => {
  const [first, second] = sealChain(2);
  const file = path.join(dir, "b.dskepsrd");
  fs.writeFileSync(file, "old", { mode: 0o644 });
  await writeBundleFile(file, second.bytes);
  expect(peekBundleHeader(await readBundleFile(file)).seq).toBe(2);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  await writeBundleFile(file, first.bytes);
  expect(peekBundleHeader(await readBundleFile(file)).seq).toBe(1);
  expect(fs.readdirSync(dir)).toEqual(["b.dskepsrd"]);
});

test("write into a missing directory fails with a message naming the file", async () => {
  const file = path.join(dir, "nope", "b.dskepsrd");
  const e = await errorOf(writeBundleFile(file, new Uint8Array([1, 2, 3])));
  expect(e.code).toBe("ENOENT");
  expect(e.file).toBe(file);
  expect(e.message).toBe(
    `cannot write bundle file ${file}: no such file (check the path, or whether it was installed and destroyed already)`,
  );
});

test("destroy overwrites with zeros before unlinking, and is idempotent", async () => {
  const [first] = sealChain(1);
  const file = path.join(dir, "b.dskepsrd");
  await writeBundleFile(file, first.bytes);
  // A second name for the same inode shows what destroy wrote into it before the unlink.
  const witness = path.join(dir, "witness");
  fs.linkSync(file, witness);
  await destroyBundleFile(file);
  expect(fs.existsSync(file)).toBe(false);
  const left = fs.readFileSync(witness);
  expect(left.length).toBe(first.bytes.length);
  expect(left.every((b) => b === 0)).toBe(true);
  await destroyBundleFile(file); // missing: no error
  await destroyBundleFile(path.join(dir, "never-existed"));
});

test("destroy of a large file zeroes all of it (several chunks)", async () => {
  const file = path.join(dir, "big");
  fs.writeFileSync(file, Buffer.alloc(2.5 * 1024 * 1024, 0xa5), { mode: 0o600 });
  const witness = path.join(dir, "witness");
  fs.linkSync(file, witness);
  await destroyBundleFile(file);
  const left = fs.readFileSync(witness);
  expect(left.length).toBe(2.5 * 1024 * 1024);
  expect(left.every((b) => b === 0)).toBe(true);
});

test("destroy of a directory is refused and removes nothing", async () => {
  const sub = path.join(dir, "sub");
  fs.mkdirSync(sub);
  const e = await errorOf(destroyBundleFile(sub));
  expect(e.message).toMatch(/cannot destroy bundle file .*sub: (not a regular file|it is a directory)/);
  expect(fs.existsSync(sub)).toBe(true);
});

test("read: clear errors for a missing file, a directory and an unreadable file", async () => {
  const missing = path.join(dir, "missing.dskepsrd");
  const e1 = await errorOf(readBundleFile(missing));
  expect(e1.code).toBe("ENOENT");
  expect(e1.message).toBe(
    `cannot read bundle file ${missing}: no such file (check the path, or whether it was installed and destroyed already)`,
  );

  const e2 = await errorOf(readBundleFile(dir));
  expect(e2.message).toMatch(/^cannot read bundle file .*: (not a regular file|it is a directory, not a bundle file)$/);

  if (process.getuid?.() !== 0) {
    const locked = path.join(dir, "locked");
    fs.writeFileSync(locked, "x", { mode: 0o000 });
    const e3 = await errorOf(readBundleFile(locked));
    expect(e3.code).toBe("EACCES");
    expect(e3.message).toMatch(/permission denied/);
  }
});

test("a write that fails at the rename leaves no temporary file behind", async () => {
  const target = path.join(dir, "taken");
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, "x"), "x");
  const [first] = sealChain(1);
  const e = await errorOf(writeBundleFile(target, first.bytes));
  expect(e.message).toMatch(/^cannot write bundle file .*taken: /);
  expect(fs.readdirSync(dir)).toEqual(["taken"]);
});
