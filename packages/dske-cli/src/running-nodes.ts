/**
 * Which selected nodes run, for `stop`: a node of this machine runs when its pid file names a live
 * node process, it answers its management status, or its port is held by its own server (a lost
 * pid file); a node on another host runs while something answers at its address. `stop` asks only
 * those to stop, and says "X is not running" (or "Nothing to stop") for the others instead of
 * printing "Stopping X" for a node that is not there.
 */
import type { ProbeResult } from "./mgmt";
import { isNodeServer } from "./port-conflicts";
import { describeHolder, findPortHolder, type PortHolder } from "./port-holder";
import { isPortFree } from "./ports";
import { nodeLabel, type NodeSpec } from "./topology";

export interface NodeProbes {
  isLocal(node: NodeSpec): boolean;
  pidAlive(node: NodeSpec): boolean;
  probe(node: NodeSpec): Promise<ProbeResult>;
}

export interface RunningNodes {
  readonly running: NodeSpec[];
  /** Nodes that do not run; `holder`: another program holding the node's port. */
  readonly stopped: { node: NodeSpec; holder?: PortHolder }[];
}

export async function runningNodes(nodes: readonly NodeSpec[], p: NodeProbes): Promise<RunningNodes> {
  const states = await Promise.all(
    nodes.map(async (node): Promise<{ running: boolean; holder?: PortHolder }> => {
      if (!p.isLocal(node)) return { running: (await p.probe(node)).state !== "down" };
      if (p.pidAlive(node)) return { running: true };
      const probe = await p.probe(node);
      if (probe.state === "up") return { running: true };
      if (await isPortFree(node.port, node.listen)) return { running: false };
      const holder = await findPortHolder(node.port);
      if (holder !== undefined && isNodeServer(holder, node)) return { running: true };
      return { running: false, holder };
    }),
  );
  return {
    running: nodes.filter((_, i) => states[i].running),
    stopped: nodes.flatMap((node, i) => (states[i].running ? [] : [{ node, holder: states[i].holder }])),
  };
}

function capitalised(node: NodeSpec): string {
  return node.kind === "hub" ? "Hub" : "Client";
}

/** `Client carol is not running` (and who holds its port, when another program does). */
export function notRunningLine(s: RunningNodes["stopped"][number]): string {
  const held = s.holder !== undefined ? ` (its port ${s.node.port} is held by another program: ${describeHolder(s.holder)})` : "";
  return `${capitalised(s.node)} ${s.node.name} is not running${held}`;
}

/** The one line of a stop that finds nothing running: `description` is the selection's ("all nodes", ...). */
export function nothingToStopLine(stopped: RunningNodes["stopped"], description: string): string {
  if (stopped.length === 1) return `Nothing to stop: ${notRunningLine(stopped[0]).replace(/^\w/, (c) => c.toLowerCase())}`;
  const held = stopped.filter((s) => s.holder !== undefined);
  const heldNote =
    held.length > 0
      ? `; ${held.map((s) => `${nodeLabel(s.node)}'s port ${s.node.port} is held by ${describeHolder(s.holder as PortHolder)}`).join("; ")}`
      : "";
  return description === "all nodes"
    ? `Nothing to stop: no node of the topology is running${heldNote}`
    : `Nothing to stop: none of ${description} is running${heldNote}`;
}
