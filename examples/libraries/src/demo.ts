/**
 * @dske/sss and @dske/psrd as plain libraries, no HTTP: Alice splits a secret 3-of-5, one-time-pad
 * encrypts one share with PSRD she shares with Bob, sends only ciphertext + allocation metadata,
 * and Bob decrypts with his copy of the PSRD and recovers the secret, even with one share corrupted.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { MemoryStore, formatAllocation, parseAllocation, type PsrdStore } from "@dske/psrd";
import { combine, combineRobust, split } from "@dske/sss";

export interface DemoResult {
  secretHex: string;
  recoveredHex: string;
  robustRecoveredHex: string;
  droppedX: number[];
  allocationHeader: string;
  /** Pool accounting after the exchange: Alice's owned pool and Bob's copy agree. */
  alice: { used: number; available: number };
  bob: { used: number; available: number };
  /** Taking the same PSRD bytes twice is refused (single use). */
  replayRefused: boolean;
}

const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((v, i) => v ^ b[i]);
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export async function runLibrariesDemo(
  stores: { alice: PsrdStore; bob: PsrdStore } = { alice: new MemoryStore(), bob: new MemoryStore() },
): Promise<DemoResult> {
  // Out of band: Alice and Bob receive the same block of PSRD. Alice owns the pool she sends from.
  const block = randomBytes(1024);
  const uuid = randomUUID();
  const alicePool = await stores.alice.openPool("alice->bob", "local");
  const bobPool = await stores.bob.openPool("alice->bob", "peer");
  await alicePool.addBlock(uuid, new Uint8Array(block));
  await bobPool.addBlock(uuid, new Uint8Array(block));
  block.fill(0);

  // Alice: a 32-byte secret, 5 shares, any 3 recover it.
  const secret = new Uint8Array(randomBytes(32));
  const secretHex = hex(secret);
  const shares = split(secret, 5, 3);

  // Alice encrypts share 1 with a fresh pad (durably consumed before she gets the bytes).
  const { allocation, data: pad } = await alicePool.allocate(shares[0].y.length, "example share 1");
  const ciphertext = xor(shares[0].y, pad);
  pad.fill(0);
  const allocationHeader = formatAllocation(allocation); // what travels with the ciphertext

  // Bob: parse the metadata strictly, take exactly those bytes from his copy, decrypt.
  const bobPad = await bobPool.take(parseAllocation(allocationHeader), "example share 1");
  const share1 = { x: 1, y: xor(ciphertext, bobPad) };
  bobPad.fill(0);

  // Bob combines share 1 with shares 3 and 5 (any 3 of 5 do).
  const recovered = combine([share1, shares[2], shares[4]]);

  // With all 5 shares and one of them corrupted, robust reconstruction finds and drops it.
  const corrupted = { x: shares[3].x, y: shares[3].y.map((v) => v ^ 0x5a) };
  const robust = combineRobust([share1, shares[1], shares[2], corrupted, shares[4]], 3);

  // The same PSRD bytes can never be taken twice.
  let replayRefused = false;
  try {
    await bobPool.take(parseAllocation(allocationHeader), "replay");
  } catch {
    replayRefused = true;
  }

  const a = alicePool.stats();
  const b = bobPool.stats();
  return {
    secretHex,
    recoveredHex: hex(recovered),
    robustRecoveredHex: hex(robust.secret),
    droppedX: robust.dropped,
    allocationHeader,
    alice: { used: a.used, available: a.available },
    bob: { used: b.used, available: b.available },
    replayRefused,
  };
}
