/**
 * Encryption of stored PSRD chunks: AES-256-CTR under the epoch's data key, with a fresh random
 * 16-byte IV per (re-)encryption, stored next to the chunk. CTR keeps byte positions, so a
 * consumed range is erased in the live row by overwriting its ciphertext bytes with zeros,
 * without re-encrypting the rest. There is no authentication tag: whoever can write the database
 * can already destroy PSRD; a modified byte shows up as a failed MAC downstream, never as a leak.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export function encryptChunk(dataKey: Uint8Array, plain: Uint8Array): { iv: Buffer; data: Buffer } {
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-ctr", dataKey, iv);
  const data = Buffer.concat([c.update(plain), c.final()]);
  return { iv, data };
}

export function decryptChunk(dataKey: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const d = createDecipheriv("aes-256-ctr", dataKey, iv);
  return Buffer.concat([d.update(data), d.final()]);
}
