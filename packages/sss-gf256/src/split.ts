import { SssError } from "./errors.js";
import { powers } from "./lagrange.js";
import { linearCombine } from "./linear.js";
import { defaultRandom, type RandomSource } from "./random.js";
import type { Share } from "./share.js";
import { packVectors, toBytes } from "./words.js";

/**
 * Splits `secret` into n shares (x = 1..n), any k of which recover it.
 *
 * Per byte j the polynomial is f_j(x) = s_j + a_{1,j}·x + ... + a_{k-1,j}·x^(k-1). The random
 * source is called ONCE with (k-1)·L bytes (not at all when k = 1); byte (t-1)·L + j is the x^t
 * coefficient of secret byte j. That buffer is consumed: it is zeroed before split returns, as
 * are all internal copies of the secret and coefficients.
 *
 * Each share is Σ_t x^t · a_t with PUBLIC x^t, computed by the constant-time kernel.
 */
export function split(secret: Uint8Array, n: number, k: number, random: RandomSource = defaultRandom): Share[] {
  if (!(secret instanceof Uint8Array)) throw new SssError("INVALID_TYPE", "secret must be a Uint8Array");
  if (secret.length === 0) throw new SssError("EMPTY_SECRET", "secret must not be empty");
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 255) {
    throw new SssError("INVALID_SHARE_COUNT", `share count n must be an integer in 1..255, got ${String(n)}`);
  }
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > n) {
    throw new SssError("INVALID_THRESHOLD", `threshold k must be an integer in 1..n (n = ${n}), got ${String(k)}`);
  }
  if (typeof random !== "function") throw new SssError("INVALID_TYPE", "random must be a function (length) => Uint8Array");

  const L = secret.length;
  const coeffLength = (k - 1) * L;
  let coeffBytes: Uint8Array = new Uint8Array(0);
  if (coeffLength > 0) {
    const r: unknown = random(coeffLength);
    if (!(r instanceof Uint8Array) || r.length !== coeffLength) {
      if (r instanceof Uint8Array) r.fill(0);
      throw new SssError(
        "INVALID_RANDOM",
        `random(${coeffLength}) must return a Uint8Array of ${coeffLength} bytes, got ` +
          (r instanceof Uint8Array ? `${r.length} bytes` : typeof r),
      );
    }
    coeffBytes = r;
  }

  // inputs[0] = secret, inputs[t] = x^t coefficients
  const batch = packVectors(k, L, (t) => (t === 0 ? secret : coeffBytes.subarray((t - 1) * L, t * L)));
  coeffBytes.fill(0);
  const out = new Uint32Array(batch.words);
  try {
    const shares: Share[] = [];
    for (let x = 1; x <= n; x++) {
      linearCombine(out, batch.vectors, powers(x, k));
      shares.push({ x, y: toBytes(out, L) });
    }
    return shares;
  } finally {
    batch.wipe();
    out.fill(0);
  }
}
