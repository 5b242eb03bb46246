/**
 * RecordSealer: the secret fields of hub state records sealed (AES-256-GCM) before they go into a
 * shared database, and opened when read back.
 *
 * - A share record's value (`v`) is sealed under the key of the current epoch (epoch-keys.ts),
 *   which is forgotten a bounded time later: a share, deleted or not, is unreadable in the
 *   database, its WAL and its backups from then on.
 * - A bundle chain record's next chain key (`k`) is sealed under the key file's static key.
 * - Other records hold no secret and pass through.
 *
 * The record's kind, client and key ID are the additional authenticated data: a sealed value
 * cannot be moved to another record.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { EpochKeys } from "./epoch-keys.js";

type Rec = Record<string, unknown>;

export class RecordSealer {
  constructor(
    private readonly keys: EpochKeys,
    private readonly now: () => number = Date.now,
  ) {}

  /** The record as stored: secret fields sealed (a new object; the input is left as it was). */
  seal(record: unknown): unknown {
    const r = record as Rec;
    if (r.t === "share" && typeof r.v === "string") {
      const epoch = this.keys.epochOf(this.now());
      const key = this.keys.sealingKey(epoch);
      if (!key) throw new Error(`internal: no sealing key for the current epoch ${epoch}`);
      const { v, ...rest } = r;
      return { ...rest, vs: `${epoch}.${encrypt(key, Buffer.from(v, "base64"), aad(r))}` };
    }
    if (r.t === "chain" && typeof r.k === "string") {
      const { k, ...rest } = r;
      return { ...rest, ks: encrypt(this.keys.staticKey, Buffer.from(k, "base64"), aad(r)) };
    }
    return record;
  }

  /** The record with its secret fields opened, or undefined when its key was forgotten (an expired share). */
  open(stored: unknown): unknown {
    const r = stored as Rec;
    if (r.t === "share" && typeof r.vs === "string") {
      const dot = r.vs.indexOf(".");
      const key = this.keys.sealingKey(Number(r.vs.slice(0, dot)));
      if (!key) return undefined;
      const { vs, ...rest } = r;
      return { ...rest, v: decrypt(key, vs.slice(dot + 1), aad(r)).toString("base64") };
    }
    if (r.t === "chain" && typeof r.ks === "string") {
      const { ks, ...rest } = r;
      return { ...rest, k: decrypt(this.keys.staticKey, ks, aad(r)).toString("base64") };
    }
    return stored;
  }
}

/** Share: kind, master client, key ID. Chain: kind, client, seq (never the secret field itself). */
function aad(r: Rec): Buffer {
  return Buffer.from(JSON.stringify(r.t === "share" ? [r.t, r.m, r.k] : [r.t, r.c, r.s]), "utf8");
}

function encrypt(key: Buffer, plain: Buffer, additional: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(additional);
  const out = Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]).toString("base64");
  plain.fill(0);
  return out;
}

function decrypt(key: Buffer, sealed: string, additional: Buffer): Buffer {
  const raw = Buffer.from(sealed, "base64");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  d.setAAD(additional);
  d.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
}
