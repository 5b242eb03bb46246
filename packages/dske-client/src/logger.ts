/**
 * The client's logger: the one `Logger` interface of @dske/protocol, and the pino adapters of
 * @dske/server (re-exported here for the client's public API).
 */
export { capturingLogger, silentLogger, type CapturedLine, type Logger, type LogFields } from "@dske/protocol";
export { pinoLogger, consoleLogger } from "@dske/server";
