/**
 * The hub's local distributor at work (draft §7: a security hub is a security server plus local
 * distributors). Given a distribution plan (which clients, their management URL and the inbox
 * directory a courier can reach), it runs @dske/distributor's LocalDistributor with this transport:
 *
 * - needs: the client's `GET mgmt/v1/psrd-needs?hub=THIS&wait_ms=` (long poll, operator credential);
 * - issue: this hub issues the bundle into its outbox (no HTTP: same process);
 * - deliver: the courier: the file moves from the hub's outbox into the client's inbox (a rename
 *   on one host; on separate hosts an operator carries it: `dske-cli psrd issue` / `install`);
 * - install: the client's `POST mgmt/v1/psrd-bundles {file}` (operator credential).
 *
 * The bundle bytes never travel over the network.
 */
import { promises as fs } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { z } from "zod";
import { LocalDistributor, destroyBundleFile, type DistributorTransport, type Need } from "@dske/distributor";
import type { Hub } from "./hub.js";
import { jsonRequest, NodeNameSchema, silentLogger, type Logger } from "@dske/protocol";

export const DistributionPlanSchema = z.object({
  clients: z
    .array(
      z.object({
        name: NodeNameSchema,
        /** Base URL of the client's routes, e.g. `http://127.0.0.1:8105/client/carol`. */
        url: z.url(),
        /** Directory on this host where the client picks up bundles (its inbox). */
        inbox: z.string().min(1),
      }),
    )
    .max(10_000),
});
export type DistributionPlan = z.infer<typeof DistributionPlanSchema>;

export interface DistributionOptions {
  hub: Hub;
  plan: DistributionPlan;
  /** Operator credential sent to the clients' management API. */
  operatorToken?: string;
  /** PEM CA certificate(s) to verify clients served over HTTPS. */
  tlsCa?: string | Buffer;
  /** Client certificate/key to present to clients over HTTPS (the operator certificate). */
  tlsCert?: string | Buffer;
  tlsKey?: string | Buffer;
  /** The distributor's log lines (default silentLogger). */
  logger?: Logger;
}

export interface RunningDistribution {
  readonly distributor: LocalDistributor;
  stop(): Promise<void>;
}

/** Start distributing this hub's PSRD to the clients of the plan (those its acceptance policy admits). */
export function startDistribution(options: DistributionOptions): RunningDistribution {
  const { hub, plan } = options;
  const clients = new Map(plan.clients.filter((c) => hub.accepts(c.name)).map((c) => [c.name, c]));
  // node:http(s) with keep-alive agents (jsonRequest): no HTTP library to load at the hub's start.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: options.tlsCa, cert: options.tlsCert, key: options.tlsKey });
  const headers: Record<string, string> = options.operatorToken ? { Authorization: `Bearer ${options.operatorToken}` } : {};
  const target = (name: string) => {
    const c = clients.get(name);
    if (!c) throw new Error(`client ${name} is not in this hub's distribution plan`);
    return c;
  };
  const fail = (what: string, status: number, data: unknown): Error => {
    const message =
      typeof data === "object" && data !== null && typeof (data as { message?: unknown }).message === "string"
        ? (data as { message: string }).message
        : "";
    return new Error(`${what}: HTTP ${status}${message ? `: ${message}` : ""}`);
  };
  const transport: DistributorTransport = {
    async needs(client: string, waitMs: number, signal: AbortSignal): Promise<Need[]> {
      const c = target(client);
      const query = new URLSearchParams({ hub: hub.name, wait_ms: String(waitMs) });
      const res = await jsonRequest(`${c.url}/mgmt/v1/psrd-needs?${query.toString()}`, {
        method: "GET",
        timeoutMs: waitMs + 10_000,
        agent,
        httpsAgent,
        headers,
        signal,
      });
      if (res.status !== 200) throw fail(`PSRD needs of ${client}`, res.status, res.data);
      const body = z
        .object({ needs: z.array(z.object({ hub_name: z.string(), client_owned_bytes: z.int().min(0), hub_owned_bytes: z.int().min(0) })) })
        .safeParse(res.data);
      if (!body.success) throw new Error(`PSRD needs of ${client}: unexpected answer`);
      return body.data.needs.filter((n) => n.hub_name === hub.name);
    },
    async issue(_hub: string, client: string, clientOwnedBytes: number, hubOwnedBytes: number) {
      const issued = await hub.issueBundle(client, clientOwnedBytes, hubOwnedBytes);
      return { file: issued.file, seq: issued.seq };
    },
    async deliver(client: string, file: string): Promise<string> {
      const c = target(client);
      await fs.mkdir(c.inbox, { recursive: true, mode: 0o700 });
      const dest = path.join(c.inbox, path.basename(file));
      try {
        await fs.rename(file, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
        // Another file system: copy (mode 0600), then destroy the source (zeroed before unlink).
        await fs.copyFile(file, dest);
        await fs.chmod(dest, 0o600);
        await destroyBundleFile(file);
      }
      return dest;
    },
    async install(client: string, file: string): Promise<void> {
      const c = target(client);
      const res = await jsonRequest(`${c.url}/mgmt/v1/psrd-bundles`, {
        method: "POST",
        body: { file },
        timeoutMs: 60_000,
        agent,
        httpsAgent,
        headers,
      });
      if (res.status !== 200) throw fail(`installing ${path.basename(file)} at ${client}`, res.status, res.data);
    },
  };
  const distributor = new LocalDistributor({
    clients: [...clients.keys()],
    transport,
    log: options.logger ?? silentLogger,
    // Clients may start after their hubs: retry soon, and keep retrying at a modest pace.
    backoff: { initialMs: 25, maxMs: 2000 },
  });
  distributor.start();
  return {
    distributor,
    async stop() {
      await distributor.stop();
      agent.destroy();
      httpsAgent.destroy();
    },
  };
}
