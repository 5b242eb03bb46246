/**
 * An encryptor agent (agent.ts) run as its own process inside a host's network namespace
 * (`ip netns exec NS node --import tsx src/agent.ts ...`), its JSON lines collected as events.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stopProcess } from "./wg-hosts.js";

const EXAMPLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface AgentLine {
  readonly event: string;
  readonly rotation?: number;
  readonly key_ID?: string;
  readonly message?: string;
  readonly [field: string]: unknown;
}

export class AgentProcess {
  readonly events: AgentLine[] = [];
  private stderr = "";
  private stdout = "";
  private readonly child: ChildProcess;
  private rest = "";

  constructor(
    readonly name: string,
    namespace: string,
    args: readonly string[],
    private readonly onLine?: (name: string, line: string) => void,
  ) {
    this.child = spawn("ip", ["netns", "exec", namespace, process.execPath, "--import", "tsx", path.join("src", "agent.ts"), ...args], {
      cwd: EXAMPLE_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.on("data", (d: Buffer) => this.take(d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  private take(text: string): void {
    this.stdout += text;
    const lines = `${this.rest}${text}`.split("\n");
    this.rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      this.onLine?.(this.name, line);
      try {
        this.events.push(JSON.parse(line) as AgentLine);
      } catch {
        this.events.push({ event: "text", message: line });
      }
    }
  }

  /** The `rotated` events so far. */
  rotations(): AgentLine[] {
    return this.events.filter((e) => e.event === "rotated");
  }

  /** Everything it wrote (stdout and stderr), e.g. to check that no key appears in it. */
  output(): string {
    return `${this.stdout}${this.stderr}`;
  }

  /** Exit code, or undefined while it runs. */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** Its stderr and last events, for a failure message. */
  diagnostics(): string {
    return `${this.name}: exit ${String(this.child.exitCode)}; stderr: ${this.stderr.trim().slice(-2000)}; last events: ${JSON.stringify(this.events.slice(-5))}`;
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }
}
