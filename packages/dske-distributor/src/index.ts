export {
  BUNDLE_MAGIC,
  sealBundle,
  openBundle,
  peekBundleHeader,
  type SealBlock,
  type SealBundleInput,
  type OpenBundleOptions,
  type OpenedBlock,
  type OpenedBundle,
} from "./bundle.js";
export {
  BUNDLE_VERSION,
  MAX_HEADER_BYTES,
  MAX_BUNDLE_BLOCKS,
  MAX_BUNDLE_PSRD_BYTES,
  NODE_NAME_RE,
  BundleHeaderSchema,
  BundleBlockSchema,
  BundlePoolOwnerSchema,
  type BundleHeader,
  type BundleBlock,
  type BundlePoolOwner,
} from "./bundle-header.js";
export { BundleError, BUNDLE_ERROR_CODES, type BundleErrorCode } from "./bundle-error.js";
export { bundleTag } from "./bundle-tag.js";
export { CHAIN_KEY_BYTES, TAG_BYTES, newChainKey, isChainKey } from "./chain.js";
export { writeBundleFile, readBundleFile, destroyBundleFile, BundleFileError, MAX_BUNDLE_FILE_BYTES } from "./bundle-file.js";
export {
  LocalDistributor,
  type Need,
  type DistributorTransport,
  type DistributorLogger,
  type DistributorLogFields,
  type LocalDistributorOptions,
  type DistributorCounters,
  type PendingBundle,
} from "./distributor.js";
