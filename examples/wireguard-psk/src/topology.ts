/**
 * The DSKE topology behind the two WireGuard hosts: five hubs (k = 3 of 5) on loopback and two
 * clients (KMEs), carol (SAE sam, host A's encryptor) and curtis (SAE sunny, host B's), all run
 * by `dske-cli` (its library entry `runCli`) in the machine's own network namespace. The KMEs
 * listen on the hosts' gateway address (the lab bridge), the only place the agents inside the
 * namespaces can reach them; plain HTTP there needs `insecure: true` (see the README's limits).
 * Ports 19800-19806.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CapturedOutput, runCli, type Output } from "@dske/cli";

export const BASE_PORT = 19800;
export const HUBS = ["hank", "helen", "hilary", "holly", "hugo"] as const;
/** KME per SAE: the master SAE sam on carol, the slave SAE sunny on curtis. */
export const KMES = { sam: "carol", sunny: "curtis" } as const;
export const KME_PORTS = { carol: BASE_PORT + HUBS.length, curtis: BASE_PORT + HUBS.length + 1 } as const;

/** The topology YAML, with the KMEs bound to `kmeAddress`. */
export function topologyYaml(kmeAddress: string): string {
  return [
    "# The WireGuard PSK example's topology: hubs on loopback, the KMEs on the hosts' gateway address.",
    `base_port: ${BASE_PORT}`,
    "min_nr_shares: 3",
    "tls: false",
    "insecure: true",
    "hubs:",
    ...HUBS.map((h) => `  - name: ${h}`),
    "clients:",
    ...Object.entries(KMES).flatMap(([sae, kme]) => [
      `  - name: ${kme}`,
      `    host: ${kmeAddress}`,
      `    listen: ${kmeAddress}`,
      `    port: ${KME_PORTS[kme]}`,
      "    encryptors:",
      `      - name: ${sae}`,
    ]),
    "",
  ].join("\n");
}

export interface RunningTopology {
  readonly dir: string;
  /** ETSI base URL of the KME of `sae`, as the agents reach it. */
  etsiUrl(sae: keyof typeof KMES): string;
  /** Stop every node and delete the directory. */
  stop(): Promise<void>;
}

async function cli(configFile: string, stateDir: string, args: string[], onLine?: (line: string) => void): Promise<void> {
  const captured = new CapturedOutput();
  const out: Output = {
    line: (l) => {
      captured.line(l);
      onLine?.(l);
    },
    error: (l) => captured.error(l),
  };
  const code = await runCli(["--config", configFile, "--state-dir", stateDir, ...args], { out });
  if (code !== 0) throw new Error(`dske-cli ${args.join(" ")} failed (exit ${code}):\n${captured.stdout}${captured.stderr}`);
}

/** Write the YAML to a fresh temporary directory and `dske-cli start` it (`onProgress` gets its lines). */
export async function startTopology(kmeAddress: string, onProgress?: (line: string) => void): Promise<RunningTopology> {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-wireguard-psk-"));
  const configFile = path.join(dir, "dske-config.yaml");
  const stateDir = path.join(dir, "state");
  writeFileSync(configFile, topologyYaml(kmeAddress));
  try {
    await cli(configFile, stateDir, ["start"], onProgress);
  } catch (err) {
    await cli(configFile, stateDir, ["stop"]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    etsiUrl: (sae) => `http://${kmeAddress}:${KME_PORTS[KMES[sae]]}/client/${KMES[sae]}/etsi`,
    async stop(): Promise<void> {
      try {
        await cli(configFile, stateDir, ["stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
