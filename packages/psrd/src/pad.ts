/**
 * One-time pads: PSRD bytes XOR data. The one implementation of the pad used by hubs and
 * clients to encrypt and decrypt key shares with an allocation's bytes.
 */

/**
 * `data` XOR `pad[padOffset, padOffset + data.length)`, written to `out` (default: a new array;
 * pass `data` itself to pad in place). Throws RangeError when the pad is too short or `out`
 * has another length.
 */
export function xorPad(data: Uint8Array, pad: Uint8Array, padOffset = 0, out: Uint8Array = new Uint8Array(data.length)): Uint8Array {
  if (!Number.isSafeInteger(padOffset) || padOffset < 0 || padOffset + data.length > pad.length) {
    throw new RangeError(`xorPad: ${data.length} bytes at pad offset ${padOffset} exceed the pad of ${pad.length} bytes`);
  }
  if (out.length !== data.length) throw new RangeError(`xorPad: output of ${out.length} bytes for ${data.length} bytes of data`);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ pad[padOffset + i];
  return out;
}

/** One-time pad of equal lengths: a new array `a` XOR `b` (RangeError when the lengths differ). */
export function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new RangeError(`xor: length mismatch ${a.length} != ${b.length}`);
  return xorPad(a, b);
}
