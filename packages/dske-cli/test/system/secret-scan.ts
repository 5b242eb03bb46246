/**
 * Secret scanner for log files: does any log line carry key or PSRD bytes, in any usual text
 * encoding?
 *
 * The corpus finds every 16-byte window (at every offset) of every known secret: delivered key
 * values and snapshots of the PSRD pools' data files. It indexes the secrets' 8-byte anchors at
 * offsets 0, 8, 16, ... (any 16 bytes of a secret hold a whole anchor), and a candidate is then
 * compared byte for byte: as complete as indexing every window, and an eighth of the entries
 * (indexing every window of megabytes of PSRD took ten seconds of a test). A log text is scanned by
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

const ANCHOR = 8;

/** Whether the window `bytes[at, at + 16)` has 8 or more zero bytes (not a secret: see above). */
function mostlyZeros(bytes: Uint8Array, at: number): boolean {
  let zeros = 0;
  for (let j = at; j < at + WINDOW; j++) if (bytes[j] === 0) zeros++;
  return zeros >= 8;
}

export class SecretCorpus {
  private readonly secretBytes: Buffer[] = [];
  private readonly labels: string[] = [];
  /** Anchor (8 bytes as latin1) -> its last entry; entries chain to the previous one with the same anchor. */
  private readonly heads = new Map<string, number>();
  private readonly entrySecret: number[] = [];
  private readonly entryOffset: number[] = [];
  private readonly entryNext: number[] = [];
  private readonly verbatim: { label: string; encodings: string[] }[] = [];
  secrets = 0;

  /** Index a secret (all its 16-byte windows, through its anchors). */
  add(label: string, bytes: Uint8Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.secrets++;
    if (buf.length < 256) {
      this.verbatim.push({
        label,
        encodings: [buf.toString("hex"), buf.toString("hex").toUpperCase(), buf.toString("base64"), buf.toString("base64url")],
      });
    }
    if (buf.length < WINDOW) return;
    const secret = this.secretBytes.push(buf) - 1;
    this.labels.push(label);
    for (let q = 0; q + ANCHOR <= buf.length; q += ANCHOR) {
      // An all-zero anchor lies in no window with fewer than 8 zeros.
      if (buf.readUInt32LE(q) === 0 && buf.readUInt32LE(q + 4) === 0) continue;
      const anchor = buf.toString("latin1", q, q + ANCHOR);
      this.entrySecret.push(secret);
      this.entryOffset.push(q);
      this.entryNext.push(this.heads.get(anchor) ?? -1);
      this.heads.set(anchor, this.entrySecret.length - 1);
    }
  }

  /** The anchors indexed (8-byte pieces of the secrets that are not all zeros). */
  get size(): number {
    return this.entrySecret.length;
  }

  /**
   * The label of a secret a decoded byte string contains a window of, or undefined. A 16-byte
   * window `bytes[i, i + 16)` equal to `secret[p, p + 16)` holds the secret's anchor at q = p + d
   * (d < 8) as `bytes[i + d, i + d + 8)`: every 8 bytes of `bytes` are looked up as an anchor, and
   * each hit is checked for the 8 offsets d it may be.
   */
  private lookup(bytes: Buffer): string | undefined {
    for (let j = 0; j + ANCHOR <= bytes.length; j++) {
      for (let e = this.heads.get(bytes.toString("latin1", j, j + ANCHOR)) ?? -1; e >= 0; e = this.entryNext[e]) {
        const s = this.secretBytes[this.entrySecret[e]];
        for (let d = 0; d < ANCHOR; d++) {
          const i = j - d;
          const p = this.entryOffset[e] - d;
          if (i < 0 || p < 0 || i + WINDOW > bytes.length || p + WINDOW > s.length) continue;
          if (s.compare(bytes, i, i + WINDOW, p, p + WINDOW) === 0 && !mostlyZeros(s, p)) return this.labels[this.entrySecret[e]];
        }
      }
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
