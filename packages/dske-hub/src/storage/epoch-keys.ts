/**
 * EpochKeys: the keys that seal a hub's secrets at rest in a shared database (record-sealing.ts),
 * kept in a key file outside the database.
 *
 * - Time is cut into epochs of `epochMs`. The key of epoch e+1 is HMAC-SHA256(key of e, label): a
 *   one-way ratchet. The file holds only the oldest key still needed; every replica of a hub starts
 *   from the same file and derives the same keys without talking to the others.
 * - A value sealed in epoch e stays readable while the key of e exists: the keys of epochs older
 *   than `keepEpochs` behind the current one are forgotten in memory and the file is moved forward
 *   (written anew and renamed over the old one). From then on the value cannot be read from the
 *   database, its dead tuples, its WAL or a backup. Bound: (keepEpochs + 1) × epochMs after the
 *   value was sealed (plus the replicas' clock skew).
 * - A second key that never moves seals long-lived secrets (bundle chain keys, live until the next
 *   bundle) so that they too are never in the database in clear.
 *
 * The file is created once (mode 0600) by the first replica that finds none; copy it to the
 * machines of the other replicas before they start. Losing it loses the shares in flight and the
 * bundle chains stored in the database (clients then need a first bundle again).
 */
import { createHmac, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";

const FileSchema = z.object({
  v: z.literal(1),
  epoch_ms: z.int().min(1),
  epoch: z.int().min(0),
  key: z.base64(),
  static_key: z.base64(),
});

const RATCHET_LABEL = "dske hub epoch key ratchet";
const SEAL_LABEL = "dske hub epoch sealing key";

export class EpochKeyFileError extends Error {
  override readonly name = "EpochKeyFileError";
}

export class EpochKeys {
  /** Oldest epoch still held, and its ratchet key. */
  private oldest: { epoch: number; key: Buffer };
  /** Sealing keys derived so far (epoch → key), from `oldest` on. */
  private readonly derived = new Map<number, Buffer>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    readonly epochMs: number,
    readonly keepEpochs: number,
    oldest: { epoch: number; key: Buffer },
    readonly staticKey: Buffer,
  ) {
    this.oldest = oldest;
  }

  /** Read the key file, or create it (mode 0600) when there is none. */
  static async open(file: string, options: { epochMs: number; keepEpochs: number; now?: number }): Promise<EpochKeys> {
    const now = options.now ?? Date.now();
    let text: string | undefined;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw new EpochKeyFileError(`storage key file ${file}: cannot read it (${String(err)})`);
    }
    if (text === undefined) {
      const fresh = {
        v: 1 as const,
        epoch_ms: options.epochMs,
        epoch: Math.floor(now / options.epochMs),
        key: randomBytes(32).toString("base64"),
        static_key: randomBytes(32).toString("base64"),
      };
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(fresh), { mode: 0o600 });
      try {
        await fs.link(tmp, file); // fails if another replica created it meanwhile: read theirs
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        await fs.rm(tmp, { force: true });
      }
      text = await fs.readFile(file, "utf8");
    }
    let parsed: z.infer<typeof FileSchema>;
    try {
      parsed = FileSchema.parse(JSON.parse(text));
    } catch (err) {
      throw new EpochKeyFileError(
        `storage key file ${file}: not a dske storage key file (${err instanceof Error ? err.message : String(err)}); restore it or remove it to start afresh`,
      );
    }
    if (parsed.epoch_ms !== options.epochMs) {
      throw new EpochKeyFileError(
        `storage key file ${file}: made for epochs of ${parsed.epoch_ms} ms, but this hub uses ${options.epochMs} ms (its share timeout changed); give every replica the same --share-timeout-secs`,
      );
    }
    const keys = new EpochKeys(
      file,
      options.epochMs,
      options.keepEpochs,
      { epoch: parsed.epoch, key: Buffer.from(parsed.key, "base64") },
      Buffer.from(parsed.static_key, "base64"),
    );
    await keys.advance(now);
    return keys;
  }

  epochOf(at: number): number {
    return Math.floor(at / this.epochMs);
  }

  /** The sealing key of an epoch, or undefined when it was forgotten (or lies too far ahead). */
  sealingKey(epoch: number): Buffer | undefined {
    if (epoch < this.oldest.epoch || epoch > this.oldest.epoch + this.keepEpochs + 1_000_000) return undefined;
    const hit = this.derived.get(epoch);
    if (hit) return hit;
    let key = this.oldest.key;
    for (let e = this.oldest.epoch; e < epoch; e++) key = ratchet(key);
    const sealing = createHmac("sha256", key).update(SEAL_LABEL).digest();
    this.derived.set(epoch, sealing);
    return sealing;
  }

  /** Forget the keys older than keepEpochs behind `now`'s epoch and move the file forward. */
  advance(now: number): Promise<void> {
    const target = this.epochOf(now) - this.keepEpochs;
    if (target <= this.oldest.epoch) return this.writing;
    let key = this.oldest.key;
    for (let e = this.oldest.epoch; e < target; e++) {
      const next = ratchet(key);
      key.fill(0);
      key = next;
    }
    this.oldest = { epoch: target, key };
    for (const [e, k] of this.derived) {
      if (e < target) {
        k.fill(0);
        this.derived.delete(e);
      }
    }
    const content = JSON.stringify({
      v: 1,
      epoch_ms: this.epochMs,
      epoch: target,
      key: key.toString("base64"),
      static_key: this.staticKey.toString("base64"),
    });
    this.writing = this.writing.then(async () => {
      const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await fs.writeFile(tmp, content, { mode: 0o600 });
      await fs.rename(tmp, this.file);
    });
    return this.writing;
  }

  /** Zero the keys in memory. */
  wipe(): void {
    this.oldest.key.fill(0);
    for (const k of this.derived.values()) k.fill(0);
    this.derived.clear();
    this.staticKey.fill(0);
  }
}

function ratchet(key: Buffer): Buffer {
  return createHmac("sha256", key).update(RATCHET_LABEL).digest();
}
