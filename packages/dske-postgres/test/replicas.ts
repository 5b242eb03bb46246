/** Spawning replica processes (fixtures/replica-child.ts) and checking what they report. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { Fragment } from "@dske/psrd";
import { childProgram } from "../../../test/support/child-program";

const ROOT = path.resolve(__dirname, "../../..");
const CHILD = "packages/dske-postgres/test/fixtures/replica-child.ts";

export interface ReplicaRun {
  child: ChildProcess;
  /** Resolves when the process ended: its complete stdout lines, exit code, signal and stderr. */
  done: Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves when a stdout line equals `text`. */
  waitFor(text: string): Promise<void>;
}

export function spawnReplica(args: string[]): ReplicaRun {
  const child = spawn(process.execPath, [childProgram(CHILD), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (s: string) => {
    out += s;
    for (const w of [...waiters]) {
      if (out.split("\n").includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr.on("data", (s: string) => (err += s));
  const done = new Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const lines = out.split("\n");
      lines.pop(); // a torn last line (killed mid-write) is not a complete report
      resolve({ lines, code, signal, stderr: err });
    });
  });
  return {
    child,
    done,
    waitFor: (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (out.split("\n").includes(text)) {
          resolve();
          return;
        }
        waiters.push({ text, resolve });
        void done.then((r) => reject(new Error(`replica ended (${r.code ?? r.signal}) before "${text}": ${r.stderr.slice(-2000)}`)));
      }),
  };
}

/** Fragments of the report lines with this tag ("A" or "T"). */
export function reported(lines: readonly string[], tag: "A" | "T"): Fragment[] {
  return lines
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => {
      const [, blockUuid, start, size] = l.split(" ");
      return { blockUuid, start: Number(start), size: Number(size) };
    });
}

/** Throws if two fragments share a byte. */
export function assertDisjoint(frags: readonly Fragment[], what: string): void {
  const sorted = [...frags].sort((a, b) => (a.blockUuid < b.blockUuid ? -1 : a.blockUuid > b.blockUuid ? 1 : a.start - b.start));
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1];
    const c = sorted[i];
    if (p.blockUuid === c.blockUuid && p.start + p.size > c.start) {
      throw new Error(`${what}: ${p.blockUuid}:${p.start}:${p.size} and ${c.start}:${c.size} were both handed out`);
    }
  }
}

export const fragKey = (f: Fragment): string => `${f.blockUuid}:${f.start}:${f.size}`;
