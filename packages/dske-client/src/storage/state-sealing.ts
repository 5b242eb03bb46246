/**
 * StateSealer: the secrets of a client's node state (a bundle chain's next chain key and its
 * enrollment secret) sealed with AES-256-GCM before they go into a shared database, under a key
 * kept in a key file outside the database (mode 0600; every replica of the client needs a copy).
 * The record's subject (client, hub name, field) is the additional authenticated data: a sealed
 * value cannot be moved to another record.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";

const FileSchema = z.object({ v: z.literal(1), key: z.base64() });

export class StateKeyFileError extends Error {
  override readonly name = "StateKeyFileError";
}

export class StateSealer {
  private constructor(private readonly key: Buffer) {}

  /** Read the key file, or create it (mode 0600) when there is none (the first replica). */
  static async open(file: string): Promise<StateSealer> {
    let text: string | undefined;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw new StateKeyFileError(`storage key file ${file}: cannot read it (${String(err)})`);
    }
    if (text === undefined) {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await fs.writeFile(tmp, JSON.stringify({ v: 1, key: randomBytes(32).toString("base64") }), { mode: 0o600 });
      try {
        await fs.link(tmp, file); // fails if another replica created it meanwhile: read theirs
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        await fs.rm(tmp, { force: true });
      }
      text = await fs.readFile(file, "utf8");
    }
    const parsed = FileSchema.safeParse(safeJson(text));
    if (!parsed.success)
      throw new StateKeyFileError(`storage key file ${file}: not a dske client storage key file; restore it or remove it to start afresh`);
    return new StateSealer(Buffer.from(parsed.data.key, "base64"));
  }

  seal(plain: string, subject: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    c.setAAD(Buffer.from(subject, "utf8"));
    const data = Buffer.from(plain, "utf8");
    const out = Buffer.concat([iv, c.update(data), c.final(), c.getAuthTag()]).toString("base64");
    data.fill(0);
    return out;
  }

  open(sealed: string, subject: string): string {
    const raw = Buffer.from(sealed, "base64");
    const d = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(subject, "utf8"));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString("utf8");
  }

  wipe(): void {
    this.key.fill(0);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
