/**
 * Jest setup (jest.config.cjs `setupFilesAfterEnv`): byte arrays compared by memcmp.
 *
 * `expect(a).toEqual(b)` on two Uint8Arrays (or Buffers) walks them with Jest's generic deep
 * equality, key by key: profiled, that was 37 % of the CPU of the psrd and protocol tests (pools
 * compare blocks of PSRD). This tester answers for two byte arrays of the same class (true when
 * every byte matches, false otherwise) and leaves every other pair, a Buffer against a plain
 * Uint8Array included, to Jest. Nothing changes in what passes or fails, nor in the diff Jest
 * prints for a mismatch.
 */
import { Buffer } from "node:buffer";

function bytesEqual(a: unknown, b: unknown): boolean | undefined {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return undefined;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return undefined;
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// Jest 30's expect has addEqualityTesters; the globals' types (@types/jest) do not declare it yet.
type Tester = (a: unknown, b: unknown) => boolean | undefined;
(expect as unknown as { addEqualityTesters(testers: Tester[]): void }).addEqualityTesters([bytesEqual]);
