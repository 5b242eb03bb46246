/**
 * Which nodes run on this machine: in a multi-host topology `dske-cli start` starts only the nodes
 * whose `host` is one of this machine's addresses or loopback, or with `start --on HOST` those
 * whose `host` is HOST; the others are remote, reached over their management API at their host and port.
 */
import { isLoopbackHost, isOnThisMachine, localAddresses } from "./addresses";
import { HOST, nodeAddress, type NodeSpec } from "./topology";

let cached: ReadonlySet<string> | undefined;

/** Is the node placed on this machine? `on`: `start --on HOST` values; `local`: this machine's addresses. */
export function isLocal(node: Pick<NodeSpec, "host">, on: readonly string[] = [], local?: ReadonlySet<string>): boolean {
  const host = node.host ?? HOST;
  if (on.length === 0 && isLoopbackHost(host)) return true;
  if (on.length > 0) return isOnThisMachine(host, on);
  cached ??= localAddresses();
  return isOnThisMachine(host, on, local ?? cached);
}

/** `port 8100` for a node on loopback (as the reference manager says), else `HOST:PORT`. */
export function nodePlace(node: Pick<NodeSpec, "host" | "port">): string {
  return isLoopbackHost(node.host ?? HOST) ? `port ${node.port}` : nodeAddress(node);
}
