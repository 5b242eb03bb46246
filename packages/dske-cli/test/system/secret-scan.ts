/**
 * Secret scanner for log files: does any log line carry key or PSRD bytes, in any usual text
 * encoding?
 *
 * The corpus indexes every 16-byte window (at every offset) of every known secret: delivered key
 * values and snapshots of the PSRD pools' data files. A log text is scanned by
 *  1. extracting every token that could be binary data in text form: base64 / base64url runs of
 *     at least 22 characters (16 bytes) and hex runs of at least 32 characters;
 *  2. decoding each token at every character alignment (a secret may sit inside a longer
 *     encoded blob), as base64/base64url and, if it is hex, as hex;
 *  3. looking up every 16-byte window of the decoded bytes in the corpus.
 * Additionally every secret shorter than 256 bytes (keys) is searched for verbatim in its hex,
 * HEX, base64 and base64url encodings. Windows with 8 or more zero bytes are not indexed: consumed
 * PSRD is zeroed in the data files, and zeros are no secret.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface Finding {
  source: string;
  line: number;
  /** What matched: the secret's label. */
  secret: string;
  /** The offending token (shortened). */
  token: string;
}

const WINDOW = 16;
const B64_TOKEN = /[A-Za-z0-9+/_-]{22,}={0,2}/g;
const HEX_TOKEN = /[0-9a-fA-F]{32,}/g;

export class SecretCorpus {
  private readonly windows = new Map<string, string>();
  private readonly verbatim: { label: string; encodings: string[] }[] = [];
  secrets = 0;

  /** Index a secret (all its 16-byte windows). */
  add(label: string, bytes: Uint8Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.secrets++;
    if (buf.length < 256) {
      this.verbatim.push({
        label,
        encodings: [buf.toString("hex"), buf.toString("hex").toUpperCase(), buf.toString("base64"), buf.toString("base64url")],
      });
    }
    for (let i = 0; i + WINDOW <= buf.length; i++) {
      let zeros = 0;
      for (let j = i; j < i + WINDOW; j++) if (buf[j] === 0) zeros++;
      if (zeros >= 8) continue;
      const w = buf.toString("latin1", i, i + WINDOW);
      if (!this.windows.has(w)) this.windows.set(w, label);
    }
  }

  get size(): number {
    return this.windows.size;
  }

  /** The label of the secret a decoded byte string contains a window of, or undefined. */
  private lookup(bytes: Buffer): string | undefined {
    for (let i = 0; i + WINDOW <= bytes.length; i++) {
      const hit = this.windows.get(bytes.toString("latin1", i, i + WINDOW));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /** Every finding in a text (one per offending token). */
  scanText(text: string, source: string): Finding[] {
    const findings: Finding[] = [];
    const lines = text.split("\n");
    lines.forEach((lineText, index) => {
      const report = (secret: string, token: string) =>
        findings.push({ source, line: index + 1, secret, token: token.length > 48 ? `${token.slice(0, 45)}...` : token });
      for (const v of this.verbatim) {
        const hit = v.encodings.find((e) => lineText.includes(e));
        if (hit) report(v.label, hit);
      }
      for (const m of lineText.matchAll(B64_TOKEN)) {
        const token = m[0];
        for (let a = 0; a < 4; a++) {
          const hit = this.lookup(Buffer.from(token.slice(a), "base64"));
          if (hit) {
            report(hit, token);
            break;
          }
        }
      }
      for (const m of lineText.matchAll(HEX_TOKEN)) {
        const token = m[0];
        for (let a = 0; a < 2; a++) {
          const t = token.slice(a);
          const hit = this.lookup(Buffer.from(t.slice(0, t.length - (t.length % 2)), "hex"));
          if (hit) {
            report(hit, token);
            break;
          }
        }
      }
    });
    return findings;
  }
}

/** Every file under `dir` (recursively) whose name satisfies `want`. */
export function findFiles(dir: string, want: (name: string) => boolean): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...findFiles(p, want));
    else if (want(e)) out.push(p);
  }
  return out;
}

/** Add every PSRD data file (FileStore `data.bin`) under `stateDir` to the corpus; returns the bytes read. */
export function addPsrdSnapshot(corpus: SecretCorpus, stateDir: string, tag: string): number {
  let total = 0;
  for (const file of findFiles(stateDir, (n) => n === "data.bin")) {
    const data = readFileSync(file);
    total += data.length;
    corpus.add(`psrd(${tag}):${path.relative(stateDir, file)}`, data);
  }
  return total;
}
