/** @dske/postgres: a PostgreSQL-backed PsrdStore shared by the replicas of one node. */
export { MISSING_POSTGRES_MESSAGE } from "./testing/pg-binaries.js";
