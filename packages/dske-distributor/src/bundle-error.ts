/** The one error a bundle receiver sees: a stable machine-readable `code` and a message that says what to do. */

export const BUNDLE_ERROR_CODES = [
  "truncated",
  "corrupt",
  "wrong_client",
  "wrong_hub",
  "replayed",
  "out_of_order",
  "bad_tag",
  "unsupported",
] as const;

/**
 * - `truncated`: the file is shorter than its own header says (an incomplete copy).
 * - `corrupt`: not a bundle, damaged (SHA-256 mismatch), trailing bytes, or a header that breaks the schema.
 * - `wrong_client` / `wrong_hub`: meant for another client / from another hub than expected.
 * - `replayed`: a seq at or below the last one installed from that hub (including a second seq 1).
 * - `out_of_order`: a seq above the next expected one (an earlier bundle is missing).
 * - `bad_tag`: the integrity tag does not verify under the chain key: altered, or not from that hub.
 * - `unsupported`: a format version this build does not read.
 */
export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];

export class BundleError extends Error {
  override readonly name = "BundleError";

  constructor(
    readonly code: BundleErrorCode,
    message: string,
  ) {
    super(message);
  }
}
