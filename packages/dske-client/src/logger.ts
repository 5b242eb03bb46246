/**
 * The client's logger: the one `Logger` interface of @dske/protocol, and the pino adapters of
 * @dske/server (re-exported here for the client's public API).
 */
export { silentLogger, type Logger, type LogFields } from "@dske/protocol";
export { pinoLogger, consoleLogger } from "@dske/server";
