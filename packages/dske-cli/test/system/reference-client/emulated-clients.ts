/**
 * Reference clients of a system-test topology, emulated in the jest process: each listens on the
 * port the topology assigns it (base_port + number of hubs + its index) with the topology's hubs,
 * encryptors, k and PSRD thresholds, as the reference manager would start `python -m client`.
 */
import type { SystemTopology } from "../harness";
import { KmeServer } from "./kme-server";
import { ReferenceClient } from "./reference-client";

/** Start the named clients of `t` as reference client emulators (listening; registration runs in the background). */
export async function startEmulatedClients(t: SystemTopology, names: readonly string[], retryMs = 200): Promise<KmeServer[]> {
  const cfg = t.topology.config;
  const servers: KmeServer[] = [];
  try {
    for (const name of names) {
      const node = t.node(name);
      if (node.kind !== "client") throw new Error(`${name} is not a client of the topology`);
      const client = new ReferenceClient({
        name,
        hubUrls: t.topology.hubUrls(),
        encryptors: node.encryptors,
        minNrShares: cfg.min_nr_shares,
        psrd: {
          startThreshold: cfg.start_request_psrd_threshold,
          stopThreshold: cfg.stop_request_psrd_threshold,
          blockSize: cfg.get_psrd_block_size,
        },
        retryMs,
      });
      const server = new KmeServer(client, node.port);
      await server.listen();
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return servers;
}

/** Wait until every emulated client registered with every hub and holds PSRD; else fail with each hub's last error. */
export async function whenAllStarted(servers: readonly KmeServer[], ms = 30_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = servers.flatMap((s) => s.client.startupProblems().map((p) => `${s.client.name} -> ${p}`));
      reject(new Error(`reference client emulators not started within ${ms} ms:\n  ${why.join("\n  ")}`));
    }, ms);
  });
  try {
    await Promise.race([Promise.all(servers.map((s) => s.client.whenStarted())), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function closeAll(servers: readonly KmeServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.close()));
}
