/** Security-test helpers: PSRD accounting over every pool of every node of an in-process network. */
import type { AddressInfo } from "node:net";
import type http from "node:http";
import express from "express";
import { Hub as HubClass, createHubRouter, type Hub } from "@dske/hub";
import { MemoryStore } from "@dske/psrd";
import type { TestHub } from "../harness";
import type { PsrdStore } from "@dske/psrd";
import { blockKeyPrefix, type AuthSchemeName } from "@dske/auth";

export interface PoolState {
  used: number;
  available: number;
  blocks: number;
  /** Bytes consumed by allocations/takes: used minus the MAC key prefixes of the blocks (which a
   *  background PSRD replenishment adds without consuming anything). */
  consumed: number;
}
export type Accounting = Map<string, PoolState>;

/** Every pool of the hubs (via their status) and of the clients' stores (in process). */
export async function accounting(hubs: readonly Hub[], stores: readonly { name: string; store: PsrdStore }[]): Promise<Accounting> {
  const m: Accounting = new Map();
  for (const hub of hubs) {
    for (const c of hub.status().peer_clients) {
      const prefix = blockKeyPrefix(c.auth_scheme as AuthSchemeName);
      for (const [kind, s] of Object.entries(c.pools)) {
        m.set(`${hub.name}/${c.client_name}/${kind}`, { used: s.used, available: s.available, blocks: s.blocks, consumed: s.used - prefix * s.blocks });
      }
    }
  }
  for (const { name, store } of stores) {
    for (const pool of await store.listPools()) {
      const s = (await store.openPool(pool, pool.endsWith("client-owned") ? "local" : "peer")).stats();
      // The security networks use gf128 (16-byte block key prefix) everywhere.
      m.set(`${name}/${pool}`, { used: s.used, available: s.available, blocks: s.blocks, consumed: s.used - 16 * s.blocks });
    }
  }
  return m;
}

/** Pools whose consumption differs (pools that appeared count from 0). */
export function consumedDiff(before: Accounting, after: Accounting): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, a] of after) {
    const d = a.consumed - (before.get(k)?.consumed ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

export function totalConsumed(before: Accounting, after: Accounting): number {
  return Object.values(consumedDiff(before, after)).reduce((a, b) => a + b, 0);
}

/** Wait until the accounting is stable (background share posts / refills finished). */
export async function settle(read: () => Promise<Accounting>, quietMs = 120, maxMs = 8000): Promise<Accounting> {
  const until = Date.now() + maxMs;
  let last = JSON.stringify([...(await read())]);
  let stableSince = Date.now();
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 30));
    const now = JSON.stringify([...(await read())]);
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) break;
  }
  return read();
}

// ---------------------------------------------------------------------------------------------- hubs with a PSRD gate


export interface GatedHub extends TestHub {
  /** When false, `GET .../dske/oob/v1/psrd` answers 503 (the hub refuses further PSRD). */
  gate: { psrdOpen: boolean; refused: number };
}

/** Like harness.startHub, with a middleware in front of the hub router that can refuse PSRD delivery. */
export async function startGatedHub(name: string): Promise<GatedHub> {
  const store = new MemoryStore();
  const hub = await HubClass.open({ name, store, shareTimeoutSecs: 60, sweepIntervalMs: 0 });
  const gate = { psrdOpen: true, refused: 0 };
  const app = express();
  app.get(`/hub/${name}/dske/oob/v1/psrd`, (_req, res, next) => {
    if (gate.psrdOpen) return next();
    gate.refused++;
    res.status(503).json({ message: "temporarily unavailable (test gate)" });
  });
  app.use(createHubRouter({ hub, onError: () => undefined }));
  const listen = (port: number) =>
    new Promise<http.Server>((resolve, reject) => {
      const s = app.listen(port, "127.0.0.1", () => resolve(s));
      s.once("error", reject);
    });
  const server = await listen(0);
  const port = (server.address() as AddressInfo).port;
  const t: GatedHub = {
    name,
    hub,
    store,
    port,
    url: `http://127.0.0.1:${port}/hub/${name}`,
    server,
    gate,
    async down() {
      const s = t.server;
      t.server = undefined;
      if (s) {
        await new Promise<void>((r) => {
          s.close(() => r());
          s.closeAllConnections();
        });
      }
    },
    async up() {
      if (!t.server) t.server = await listen(port);
    },
  };
  return t;
}
