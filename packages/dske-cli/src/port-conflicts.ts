/**
 * Before `start` spawns nodes: which of their ports are taken, and by whom. A node of ours that is
 * still stopping (its pid file names a live node process, or the port's holder is that node's
 * server) is waited for; a port held by another program fails the start at once, naming the
 * program (port-holder.ts), instead of waiting out `--timeout` for a port that will not free.
 */
import { CliError } from "./errors";
import { describeHolder, findPortHolder, type PortHolder } from "./port-holder";
import { isPortFree } from "./ports";
import { nodeAddress, nodeLabel, type NodeSpec } from "./topology";

export interface PortCheck {
  /** Nodes whose own earlier process still holds the port (wait until it is stopped). */
  readonly stopping: NodeSpec[];
  /** Nodes whose port another program holds. */
  readonly conflicts: { node: NodeSpec; holder?: PortHolder }[];
}

/** Is the holder this node's own server process (`node .../server.js NAME ...`), e.g. one whose pid file was lost? */
export function isNodeServer(holder: PortHolder, node: NodeSpec): boolean {
  const args = holder.command.split(" ");
  return args.includes(node.name) && args.some((a) => /server\.[cm]?js$/.test(a));
}

/** Check the ports of `nodes` (all placed on this machine); `alive`: does its pid file name a live node process. */
export async function checkPorts(nodes: readonly NodeSpec[], alive: (node: NodeSpec) => boolean): Promise<PortCheck> {
  const stopping: NodeSpec[] = [];
  const conflicts: PortCheck["conflicts"] = [];
  await Promise.all(
    nodes.map(async (node) => {
      if (alive(node)) {
        stopping.push(node);
        return;
      }
      if (await isPortFree(node.port, node.listen)) return;
      const holder = await findPortHolder(node.port);
      // Freed meanwhile (a process that was just exiting): nothing to wait for.
      if (holder === undefined && (await isPortFree(node.port, node.listen))) return;
      if (holder !== undefined && isNodeServer(holder, node)) stopping.push(node);
      else conflicts.push({ node, holder });
    }),
  );
  // Keep the topology's order in messages.
  const order = (a: NodeSpec, b: NodeSpec) => nodes.indexOf(a) - nodes.indexOf(b);
  stopping.sort(order);
  conflicts.sort((a, b) => order(a.node, b.node));
  return { stopping, conflicts };
}

/** The error for ports held by other programs: each node, its port, the program, and the fixes. */
export function portConflictError(conflicts: PortCheck["conflicts"]): CliError {
  const lines = conflicts.map(({ node, holder }) => {
    const who =
      holder !== undefined ? describeHolder(holder) : "a program that could not be identified (another user's? `sudo ss -ltnp` names it)";
    return `${nodeLabel(node)}: port ${node.port} (${nodeAddress(node)}) is in use by ${who}`;
  });
  const one = conflicts.length === 1;
  return new CliError(
    `cannot start: ${one ? "a port" : "ports"} of the topology ${one ? "is" : "are"} held by another program:\n  ${lines.join("\n  ")}\n` +
      "stop that program, or move the topology to free ports (base_port, or the node's `port`, in the configuration file)",
  );
}
