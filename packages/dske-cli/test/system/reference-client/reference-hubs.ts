/**
 * Reference hubs of a system-test topology: the hub's test-only server (dist/test-server.js) in
 * its reference-hub mode (pending-features.ts: REFERENCE_HUB_ENV), spawned by the test on the port
 * the topology assigns the hub (dske-cli leaves `implementation: reference` nodes alone), with what
 * a reference hub offers: hmac-sha256 only and PSRD over the network.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { defaultServerScript } from "../../../src/node-command";
import { eventually, type SystemTopology } from "../harness";
import { httpCall } from "./http-call";
import { REFERENCE_HUB_ENV } from "./pending-features";

export interface ReferenceHubProcess {
  readonly name: string;
  readonly process: ChildProcess;
}

export async function spawnReferenceHubs(t: SystemTopology, names: readonly string[]): Promise<ReferenceHubProcess[]> {
  const script = path.join(path.dirname(defaultServerScript("hub")), "test-server.js");
  const started: ReferenceHubProcess[] = [];
  for (const name of names) {
    const node = t.node(name);
    const stateDir = path.join(t.dir, "reference-hubs", name);
    mkdirSync(stateDir, { recursive: true });
    const log = openSync(path.join(t.dir, "reference-hubs", `${name}.log`), "a");
    const args = [
      script,
      name,
      "--port",
      String(node.port),
      "--host",
      "127.0.0.1",
      "--state-dir",
      stateDir,
      "--auth-schemes",
      "hmac-sha256",
      "--psrd-delivery",
      "network",
      "--share-timeout-secs",
      String(t.topology.config.share_timeout_secs),
      "--accept-clients",
      t.topology.clients.map((c) => c.name).join(","),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", log, log], env: { ...process.env, [REFERENCE_HUB_ENV]: "1" } });
    closeSync(log);
    started.push({ name, process: child });
  }
  for (const { name } of started) {
    // Up once it answers anything on its registration route (a GET there is not a registration).
    await eventually(`reference hub ${name} to listen`, async () => {
      const res = await httpCall("GET", `http://127.0.0.1:${t.node(name).port}/hub/${name}/dske/oob/v1/registration`);
      return res.status > 0;
    });
  }
  return started;
}

/** SIGTERM each process we spawned (by its handle) and wait for it to exit (SIGKILL after 10 s). */
export async function stopReferenceHubs(hubs: readonly ReferenceHubProcess[]): Promise<void> {
  await Promise.all(
    hubs.map(async ({ process: p }) => {
      if (!isRunning(p)) return;
      const exited = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      if (isRunning(p)) {
        p.kill("SIGKILL");
        await exited;
      }
    }),
  );
}

/** Neither exited nor killed by a signal (yet). */
function isRunning(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}
