/**
 * Helpers of the crash/chaos and attack system tests: kill -9 a node of a running topology,
 * check that every node's process is alive, read and check the PSRD audit logs of all nodes.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { readAuditLog, type AuditRecord } from "@dske/psrd";
import { isNodeProcessAlive, readPidFile } from "../../src/pid-file";
import type { SystemTopology } from "./harness";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `cond` until it holds. `ms` is only a bound against a hang, far above what the condition
 * needs on a slow, busy machine: the test waits on the condition, not on time.
 */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The pid of a node's background process (from its pid file), or undefined. */
export function pidOf(t: SystemTopology, name: string): number | undefined {
  return readPidFile(path.join(t.stateDir, "pids", `${name}.pid`));
}

/** kill -9 a node; resolves once its process is gone. Returns the pid it had. */
export async function killNode(t: SystemTopology, name: string): Promise<number> {
  const pid = pidOf(t, name);
  if (pid === undefined) throw new Error(`no pid file for ${name}`);
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    // ESRCH: the node was already gone — an unexpected death (or another run on the same ports).
    throw new Error(`cannot kill ${name} (pid ${pid}): ${(err as NodeJS.ErrnoException).code}; it died before it was killed`, {
      cause: err,
    });
  }
  for (let i = 0; i < 200 && isNodeProcessAlive(pid, name); i++) await sleep(25);
  if (isNodeProcessAlive(pid, name)) throw new Error(`${name} (pid ${pid}) survived SIGKILL`);
  return pid;
}

/** Every node's pid file names a live process of that node. */
export function deadNodes(t: SystemTopology): string[] {
  return t.topology.nodes
    .filter((n) => {
      const pid = pidOf(t, n.name);
      return pid === undefined || !isNodeProcessAlive(pid, n.name);
    })
    .map((n) => n.name);
}

export interface AuditCheck {
  /** Audit records read, over all nodes. */
  records: number;
  /** Byte ranges of one pool's block consumed more than once: "node pool block start..end". */
  overlaps: string[];
  /** Nodes that had an audit log. */
  nodes: number;
}

/**
 * Read every node's `psrd-audit.jsonl` and check that no byte of any block of any pool was
 * consumed twice (allocated or taken): per (pool, block), the recorded ranges are disjoint.
 */
export async function checkAuditLogs(t: SystemTopology): Promise<AuditCheck> {
  let records = 0;
  let nodes = 0;
  const overlaps: string[] = [];
  for (const n of t.topology.nodes) {
    const file = path.join(t.stateDir, "nodes", n.name, "psrd-audit.jsonl");
    if (!existsSync(file)) continue;
    nodes++;
    const recs = await readAuditLog(file);
    records += recs.length;
    overlaps.push(...overlapsIn(recs).map((o) => `${n.name} ${o}`));
  }
  return { records, overlaps, nodes };
}

/** Overlapping ranges per (pool, block) in one node's audit records. */
export function overlapsIn(recs: readonly AuditRecord[]): string[] {
  const byBlock = new Map<string, AuditRecord[]>();
  for (const r of recs) {
    const k = `${r.pool} ${r.block_uuid}`;
    const list = byBlock.get(k) ?? [];
    list.push(r);
    byBlock.set(k, list);
  }
  const out: string[] = [];
  for (const [k, list] of byBlock) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      if (list[i].start < prev.start + prev.size) {
        out.push(
          `${k} ${list[i].start}..${list[i].start + list[i].size} overlaps ${prev.start}..${prev.start + prev.size} (${prev.purpose} / ${list[i].purpose})`,
        );
      }
    }
  }
  return out;
}

/** An HTTP error answer is "clear": an error status and an ETSI-style body with a message. */
export function isClearError(status: number, data: unknown): boolean {
  if (status < 400) return false;
  const m = (data as { message?: unknown } | null)?.message;
  return typeof m === "string" && m.length > 0;
}
