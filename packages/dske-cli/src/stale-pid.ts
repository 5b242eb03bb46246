/**
 * Stale pid files: a node's pid file names a process that is gone. Unless `dske-cli stop` asked
 * the node to stop, that process crashed (killed with -9, out of memory, a fatal error). `start`
 * and `stop` remove such files and say so, naming how the process ended when the supervisor knows.
 */
import { isNodeProcessAlive, readPidFile, removePidFile } from "./pid-file";
import { describeExit } from "./restart-policy";
import type { StateDir } from "./state-dir";
import { readRecord, stopRequested } from "./supervisor-state";
import { nodeLabel, type NodeSpec } from "./topology";

/** Remove the node's pid file if its process is gone; the line to print, or undefined. */
export function removeStalePidFile(state: StateDir, node: NodeSpec): string | undefined {
  const file = state.pidFile(node.name);
  const pid = readPidFile(file);
  if (pid === undefined || isNodeProcessAlive(pid, node.name)) return undefined;
  removePidFile(file);
  if (stopRequested(state, node.name)) return undefined; // stopped by dske-cli: not worth a line
  const e = readRecord(state, node.name)?.last_exit;
  const how = e !== undefined && e.pid === pid && e.unknown !== true ? describeExit(e) : "exit status unknown";
  return `Removed stale pid file of ${nodeLabel(node)}: process ${pid} is gone (crashed: ${how})`;
}
