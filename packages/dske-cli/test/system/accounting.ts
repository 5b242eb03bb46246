/**
 * PSRD accounting of a running topology, read from the nodes' status documents with the operator
 * credential (never PSRD bytes): what the hubs hold for a client (its registration, both pools'
 * blocks/size/used/available, bundles issued and bytes staged until confirmation, and the share
 * metadata), and what a client holds for each hub (pools and the bundle chain's seq).
 *
 * `settled(read)` waits until a reading stops changing (background work such as acknowledgement
 * flushes or block confirmations has finished), so that "before" and "after" of an attack compare
 * like with like.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { SystemTopology } from "./harness";

export interface PoolFigures {
  blocks: number;
  size: number;
  used: number;
  available: number;
}

export interface HubPeerClient {
  client_name: string;
  encryptor_names: string[];
  auth_scheme: string;
  extensions?: string[];
  pools: { client_owned: PoolFigures; hub_owned: PoolFigures };
  psrd?: { bundles_issued: number; staged: { client: number; hub: number; blocks: number } };
}

export interface HubStatusDoc {
  name: string;
  psrd_delivery?: "bundle" | "network";
  peer_clients: HubPeerClient[];
  shares: { key_id: string; fetched_by: string[]; acked_by?: string[] }[];
}

export interface ClientPeerHub {
  hub_name: string;
  registered: boolean;
  auth_scheme: string | null;
  last_error?: string | null;
  pools: { client_owned: PoolFigures; hub_owned: PoolFigures };
  psrd?: { bundles_installed: number; unconfirmed_blocks: number };
}

export interface ClientStatusDoc {
  name: string;
  peer_hubs: ClientPeerHub[];
}

export const hubStatus = async (t: SystemTopology, hub: string): Promise<HubStatusDoc> => (await t.status(hub)) as unknown as HubStatusDoc;
export const clientStatus = async (t: SystemTopology, client: string): Promise<ClientStatusDoc> =>
  (await t.status(client)) as unknown as ClientStatusDoc;

/** What each of `hubs` holds for `client` (undefined where it is not registered), plus the names of all clients it knows and its shares. */
export async function hubAccounting(t: SystemTopology, hubs: readonly string[], client: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const h of hubs) {
    const s = await hubStatus(t, h);
    out[h] = {
      clients: s.peer_clients.map((c) => c.client_name).sort(),
      [client]: s.peer_clients.find((c) => c.client_name === client),
      shares: s.shares,
    };
  }
  return out;
}

/**
 * The bundle chain seq of `client` with `hub` (bundles installed). From the client's status
 * (`peer_hubs[].psrd.bundles_installed`); older builds without that field: the client's state
 * file (its `chains.<hub>.seq`, only the number is read).
 */
export function chainSeq(t: SystemTopology, status: ClientStatusDoc, hub: string): number {
  const peer = status.peer_hubs.find((p) => p.hub_name === hub);
  if (peer?.psrd !== undefined) return peer.psrd.bundles_installed;
  const file = path.join(t.stateDir, "nodes", status.name, "client-state.json");
  const state = JSON.parse(readFileSync(file, "utf8")) as { chains?: Record<string, { seq: number }> };
  return state.chains?.[hub]?.seq ?? 0;
}

/** A client's pools and chain seq with every hub. */
export async function clientAccounting(
  t: SystemTopology,
  client: string,
): Promise<Record<string, { seq: number; pools: ClientPeerHub["pools"]; registered: boolean }>> {
  const s = await clientStatus(t, client);
  return Object.fromEntries(
    s.peer_hubs.map((p) => [p.hub_name, { seq: chainSeq(t, s, p.hub_name), pools: p.pools, registered: p.registered }]),
  );
}

/**
 * `read()` once two readings `quietMs` apart are equal and `ready` holds for it (polls every
 * 100 ms; throws after `maxMs`). The default quiet time exceeds the clients' acknowledgement
 * flush delay (1 s).
 */
export async function settled<T>(
  read: () => Promise<T>,
  opts: { quietMs?: number; maxMs?: number; ready?: (v: T) => boolean } = {},
): Promise<T> {
  const quietMs = opts.quietMs ?? 1500;
  const until = Date.now() + (opts.maxMs ?? 20_000);
  const ready = opts.ready ?? (() => true);
  let last = JSON.stringify(await read());
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const value = await read();
    const now = JSON.stringify(value);
    if (now !== last || !ready(value)) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return value;
    }
    if (Date.now() > until)
      throw new Error(`accounting did not settle within ${opts.maxMs ?? 20_000} ms; last reading: ${last.slice(0, 500)}`);
  }
}

/** hubAccounting, settled, with every released share acknowledged (no acknowledgement still on its way). */
export function settledHubAccounting(t: SystemTopology, hubs: readonly string[], client: string): Promise<Record<string, unknown>> {
  return settled(() => hubAccounting(t, hubs, client), {
    ready: (v) =>
      Object.values(v).every((h) =>
        ((h as { shares?: { pending_ack?: string[] }[] }).shares ?? []).every((s) => (s.pending_ack ?? []).length === 0),
      ),
  });
}
