/**
 * Key material for one message, from the PSRD pools.
 *
 * - Sending: allocate `scheme.allocationLength` bytes from the pool we own (durably consumed
 *   before the promise resolves). gf128 adds the block key c of the block holding the first byte.
 * - Receiving: reserve the named bytes in the peer-owned pool WITHOUT consuming; the caller
 *   verifies, then commits (or releases on failure, leaving the pool exactly as it was).
 */
import { allocationSize, formatAllocation, type Allocation, type Pool, type Reservation } from "@dske/psrd";
import { SignatureError } from "./errors";
import type { MacScheme } from "./scheme";

export interface SigningMaterial {
  readonly allocation: Allocation;
  readonly allocationString: string;
  /** The scheme key (hmac: the 32 PSRD bytes; gf128: c ‖ d). Zero it after use. */
  readonly key: Uint8Array;
}

export interface VerifyingMaterial {
  readonly key: Uint8Array;
  readonly reservation: Reservation;
}

async function withBlockKey(scheme: MacScheme, pool: Pool, allocation: Allocation, data: Uint8Array): Promise<Uint8Array> {
  if (scheme.blockKeyPrefix === 0) return data;
  const first = allocation.fragments[0];
  const c = await pool.blockKey(first.blockUuid);
  if (c.length < scheme.blockKeyPrefix)
    throw new RangeError(`block key of ${first.blockUuid} is shorter than ${scheme.blockKeyPrefix} bytes`);
  const key = new Uint8Array(scheme.keyLength);
  key.set(c.subarray(0, scheme.blockKeyPrefix), 0);
  key.set(data, scheme.blockKeyPrefix);
  c.fill(0);
  data.fill(0);
  return key;
}

/** Allocate signing material for one outgoing message from an owned pool. */
export async function allocateSigningKey(scheme: MacScheme, pool: Pool, purpose: string): Promise<SigningMaterial> {
  let allocated: { allocation: Allocation; data: Uint8Array };
  try {
    allocated = await pool.allocate(scheme.allocationLength, purpose);
  } catch (err) {
    throw new SignatureError(
      "psrd_exhausted",
      `Cannot allocate ${scheme.allocationLength} bytes of PSRD from pool ${pool.name} to sign`,
      [err instanceof Error ? err.message : String(err)],
      { cause: err },
    );
  }
  try {
    const key = await withBlockKey(scheme, pool, allocated.allocation, allocated.data);
    return { allocation: allocated.allocation, allocationString: formatAllocation(allocated.allocation), key };
  } catch (err) {
    allocated.data.fill(0);
    throw new SignatureError(
      "psrd_exhausted",
      `No ${scheme.name} block key in pool ${pool.name}`,
      [err instanceof Error ? err.message : String(err)],
      {
        cause: err,
      },
    );
  }
}

/** Reserve (not consume) the named bytes in a peer-owned pool and build the verification key. */
export async function reserveVerifyingKey(
  scheme: MacScheme,
  pool: Pool,
  allocation: Allocation,
  purpose: string,
): Promise<VerifyingMaterial> {
  const size = allocationSize(allocation);
  if (size !== scheme.allocationLength) {
    throw new SignatureError(
      "bad_allocation",
      `The signature allocation names ${size} bytes; ${scheme.name} uses ${scheme.allocationLength}`,
    );
  }
  let reservation: Reservation;
  try {
    reservation = await pool.reserve(allocation, purpose);
  } catch (err) {
    throw new SignatureError(
      "psrd_unavailable",
      "The signature allocation is not available (unknown, consumed or in use)",
      [err instanceof Error ? err.message : String(err)],
      { cause: err },
    );
  }
  try {
    const key = await withBlockKey(scheme, pool, allocation, new Uint8Array(reservation.data));
    return { key, reservation };
  } catch (err) {
    reservation.release();
    throw new SignatureError(
      "psrd_unavailable",
      `No ${scheme.name} block key for the signature allocation`,
      [err instanceof Error ? err.message : String(err)],
      {
        cause: err,
      },
    );
  }
}
