/** @dske/postgres/testing: a throwaway PostgreSQL cluster for tests and benches. */
export { startThrowawayCluster, type ThrowawayCluster, type ThrowawayClusterOptions } from "./throwaway-cluster.js";
export { findPgBinaries, requirePgBinaries, MISSING_POSTGRES_MESSAGE, type PgBinaries } from "./pg-binaries.js";
