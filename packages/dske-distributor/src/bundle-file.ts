/**
 * Bundle files on a medium or in a state directory (outbox / inbox): written atomically with
 * mode 0600, read with errors that name the file, destroyed by overwriting with zeros before unlink.
 *
 * Destruction caveat: overwriting in place erases the bytes on file systems that write in place
 * (ext4, xfs without reflinks, FAT on removable media). Copy-on-write or journaling-data file
 * systems and flash translation layers may keep old copies; the medium's physical handling
 * (the draft's local distributor) covers that case, not this function.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { MAX_BUNDLE_PSRD_BYTES, MAX_HEADER_BYTES } from "./bundle-header.js";

/** A bundle file could not be read, written or destroyed; `code` is the system error code (ENOENT, EACCES, ...) or `EBUNDLEFILE`. */
export class BundleFileError extends Error {
  override readonly name = "BundleFileError";

  constructor(
    readonly file: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Largest file that can be a bundle: prefix, header, PSRD, chain key, SHA-256, tag. */
export const MAX_BUNDLE_FILE_BYTES = 12 + MAX_HEADER_BYTES + MAX_BUNDLE_PSRD_BYTES + 32 + 32 + 16;

const ZERO_CHUNK = 1024 * 1024;

function errnoOf(e: unknown): string {
  return typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string"
    ? (e as { code: string }).code
    : "EBUNDLEFILE";
}

function explain(code: string): string {
  switch (code) {
    case "ENOENT":
      return "no such file (check the path, or whether it was installed and destroyed already)";
    case "EACCES":
    case "EPERM":
      return "permission denied (bundle files are mode 0600: run as the owner of the state directory)";
    case "EISDIR":
      return "it is a directory, not a bundle file";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return code;
  }
}

/** fsync a directory so that a rename or unlink in it is durable. */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Write a bundle atomically: a temporary file in the same directory (mode 0600, exclusive
 * create), fsync, rename onto `file`, fsync the directory. After the promise resolves the file
 * is complete on stable storage; after a crash there is either the old state or the whole file
 * (plus possibly a `.tmp` leftover, never a partial `file`). Replaces an existing `file`.
 */
export async function writeBundleFile(file: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let created = false;
  try {
    const handle = await fsp.open(tmp, "wx", 0o600);
    created = true;
    try {
      await handle.chmod(0o600); // exact mode whatever the umask
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
        off += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
    created = false;
    await fsyncDir(dir);
  } catch (e) {
    if (created) await destroyBundleFile(tmp).catch(() => undefined);
    const code = errnoOf(e);
    throw new BundleFileError(file, code, `cannot write bundle file ${file}: ${explain(code)}`, { cause: e });
  }
}

/** Read a whole bundle file. Errors name the file and say what is wrong. */
export async function readBundleFile(file: string): Promise<Uint8Array> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "r");
  } catch (e) {
    const code = errnoOf(e);
    throw new BundleFileError(file, code, `cannot read bundle file ${file}: ${explain(code)}`, { cause: e });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new BundleFileError(file, "EBUNDLEFILE", `cannot read bundle file ${file}: not a regular file`);
    if (st.size > MAX_BUNDLE_FILE_BYTES) {
      throw new BundleFileError(
        file,
        "EBUNDLEFILE",
        `cannot read bundle file ${file}: ${st.size} bytes is more than any bundle (${MAX_BUNDLE_FILE_BYTES})`,
      );
    }
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < out.length) {
      const { bytesRead } = await handle.read(out, off, out.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    // A file that shrank while being read is returned as read (openBundle then reports truncation).
    return off === out.length ? out : out.subarray(0, off);
  } catch (e) {
    if (e instanceof BundleFileError) throw e;
    const code = errnoOf(e);
    throw new BundleFileError(file, code, `cannot read bundle file ${file}: ${explain(code)}`, { cause: e });
  } finally {
    await handle.close();
  }
}

/**
 * Overwrite a bundle file with zeros, fsync, unlink, fsync the directory. Idempotent: a missing
 * file is not an error (a re-run after a crash between unlink and return does nothing).
 */
export async function destroyBundleFile(file: string): Promise<void> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "r+");
  } catch (e) {
    const code = errnoOf(e);
    if (code === "ENOENT") return;
    throw new BundleFileError(file, code, `cannot destroy bundle file ${file}: ${explain(code)}`, { cause: e });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new BundleFileError(file, "EBUNDLEFILE", `cannot destroy bundle file ${file}: not a regular file`);
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK, Math.max(st.size, 1)));
    let off = 0;
    while (off < st.size) {
      const n = Math.min(zeros.length, st.size - off);
      const { bytesWritten } = await handle.write(zeros, 0, n, off);
      off += bytesWritten;
    }
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    if (e instanceof BundleFileError) throw e;
    const code = errnoOf(e);
    throw new BundleFileError(file, code, `cannot destroy bundle file ${file}: ${explain(code)}`, { cause: e });
  }
  await handle.close();
  try {
    await fsp.unlink(file);
  } catch (e) {
    const code = errnoOf(e);
    if (code !== "ENOENT") throw new BundleFileError(file, code, `cannot destroy bundle file ${file}: ${explain(code)}`, { cause: e });
  }
  await fsyncDir(path.dirname(file));
}
