/**
 * The running topology the encryptors use: this example's `dske-config.yaml` (5 hubs, clients
 * carol with SAE sam and curtis with SAE sunny, ports 18800-18806), started and stopped with
 * `dske-cli` (its library entry `runCli`, which spawns the built hub and client servers).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CapturedOutput, loadConfig, nodeBaseUrl, runCli, Topology, type Output } from "@dske/cli";

export const CONFIG_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dske-config.yaml");

export interface RunningTopology {
  readonly topology: Topology;
  readonly stateDir: string;
  /** ETSI base URL of the KME hosting `sae`. */
  etsiUrl(sae: string): string;
  /** Stop every node and delete the state dir. */
  stop(): Promise<void>;
}

async function cli(stateDir: string, args: string[], onLine?: (line: string) => void): Promise<CapturedOutput> {
  const captured = new CapturedOutput();
  const out: Output = {
    line: (l) => {
      captured.line(l);
      onLine?.(l);
    },
    error: (l) => captured.error(l),
  };
  const code = await runCli(["--config", CONFIG_FILE, "--state-dir", stateDir, ...args], { out });
  if (code !== 0) throw new Error(`dske-cli ${args.join(" ")} failed (exit ${code}):\n${captured.stdout}${captured.stderr}`);
  return captured;
}

/** Start the topology with a fresh state dir (`onProgress` gets dske-cli's lines as they come). */
export async function startTopology(onProgress?: (line: string) => void): Promise<RunningTopology> {
  const topology = new Topology(loadConfig(CONFIG_FILE));
  const stateDir = mkdtempSync(path.join(tmpdir(), "dske-tls-psk-"));
  try {
    await cli(stateDir, ["start"], onProgress);
  } catch (err) {
    await cli(stateDir, ["stop"]).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    topology,
    stateDir,
    etsiUrl(sae: string): string {
      const kme = topology.clientOfSae(sae);
      if (kme === undefined) throw new Error(`no client hosts SAE ${sae}`);
      return `${nodeBaseUrl(kme)}/etsi`;
    },
    async stop(): Promise<void> {
      try {
        await cli(stateDir, ["stop"]);
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
