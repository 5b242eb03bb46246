/**
 * A node that does not answer, named with the command that starts it: an ETSI or management call
 * that cannot connect becomes
 *
 *   client carol (KME of sam) is not running at 127.0.0.1:9709: start it with: dske-cli --client carol start
 *
 * instead of a bare `connect ECONNREFUSED`. The start command repeats the `--config` and
 * `--state-dir` the user gave, so it can be pasted as is; a node placed on another host gets
 * `start --on HOST` (run there), a reference-implementation node is left to its own manager.
 */
import { CliError } from "./errors";
import { isExternal, nodeAddress, type NodeSpec } from "./topology";

/** Socket-level failures: nothing answered HTTP at the node's address. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ETIMEDOUT",
  "ECONNABORTED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/** The error code when `err` means the node could not be reached (no HTTP answer), else undefined. */
export function connectionFailure(err: unknown): string | undefined {
  // An axios error (ETSI and PSRD calls) and a node:http error (management calls) both carry `code`.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return code;
  // axios reports a request timeout as ECONNABORTED or ETIMEDOUT; a refused connection may be an AggregateError (IPv4 + IPv6).
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause !== undefined && cause !== err) return connectionFailure(cause);
  const errors = (err as { errors?: unknown } | undefined)?.errors;
  if (Array.isArray(errors)) for (const e of errors) if (connectionFailure(e) !== undefined) return connectionFailure(e);
  return undefined;
}

/** Builds the `dske-cli ... start` command line of a node (with the user's --config and --state-dir). */
export class NodeStarter {
  /**
   * `globalArgs`: the global options to repeat (`--config FILE`, `--state-dir DIR`), already quoted
   * where needed; `isLocal`: is the node placed on this machine.
   */
  constructor(
    private readonly globalArgs: readonly string[] = [],
    private readonly isLocal: (node: NodeSpec) => boolean = () => true,
  ) {}

  /** The start command, or how to get the node started when dske-cli does not start it here. */
  howToStart(node: NodeSpec): string {
    if (isExternal(node)) return "it is run by the reference implementation's manager: start it there";
    const cmd = ["dske-cli", ...this.globalArgs, `--${node.kind}`, node.name, "start"];
    if (this.isLocal(node)) return `start it with: ${cmd.join(" ")}`;
    return `start it on ${node.host ?? nodeAddress(node)} with: ${[...cmd, "--on", node.host ?? ""].join(" ").trimEnd()}`;
  }
}

/** A shell word: quoted when it holds characters the shell would split or expand. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `client carol (KME of sam)`, `hub hank`. */
export function nodeRoleLabel(node: NodeSpec, role?: string): string {
  return `${node.kind} ${node.name}${role ? ` (${role})` : ""}`;
}

/** The node could not be reached: the message names it, its address and how to start it. */
export class NodeDownError extends CliError {
  constructor(
    readonly node: NodeSpec,
    readonly code: string,
    starter: NodeStarter,
    role?: string,
  ) {
    const state = code === "ECONNREFUSED" ? "is not running at" : `does not answer at`;
    const why = code === "ECONNREFUSED" ? "" : ` (${code})`;
    super(`${nodeRoleLabel(node, role)} ${state} ${nodeAddress(node)}${why}: ${starter.howToStart(node)}`);
  }
}

/** Run a call on `node`; a connection failure becomes a NodeDownError naming the node and its start command. */
export async function onNode<T>(node: NodeSpec, starter: NodeStarter, role: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = connectionFailure(err);
    if (code !== undefined) throw new NodeDownError(node, code, starter, role);
    throw err;
  }
}
