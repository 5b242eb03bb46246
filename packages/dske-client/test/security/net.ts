/** Security-test helpers: PSRD accounting over every pool of every node of an in-process network; a PSRD-gated hub; the shared network fixture. */
import type { Hub } from "@dske/hub";
import { mergeClientOptions, startHub, startNetwork, type TestClient, type TestHub } from "../harness";
import type { ClientOptions } from "../../src/client";
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
        m.set(`${hub.name}/${c.client_name}/${kind}`, {
          used: s.used,
          available: s.available,
          blocks: s.blocks,
          consumed: s.used - prefix * s.blocks,
        });
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

/** harness.startHub whose PSRD issuance (the local distributor's bundles) can be refused. */
export async function startGatedHub(name: string): Promise<GatedHub> {
  const gate = { psrdOpen: true, refused: 0 };
  const hub = await startHub(name);
  const issue = hub.hub.issueBundle.bind(hub.hub);
  hub.hub.issueBundle = (...args: Parameters<typeof issue>) => {
    if (gate.psrdOpen) return issue(...args);
    gate.refused++;
    return Promise.reject(new Error("PSRD issuance temporarily refused (test gate)"));
  };
  return Object.assign(hub, { gate });
}

// ---------------------------------------------------------------------------------------------- a whole network

export interface TestNetwork {
  hubs: TestHub[];
  carol: TestClient;
  curtis: TestClient;
  /** PSRD accounting of every pool of every node. */
  read(): Promise<Accounting>;
}

/**
 * The security tests' in-process network, set up before the file's tests and torn down after:
 * hubs hank..hugo (n of them), carol [sam, sue] and curtis [sunny, susan], both registered.
 * Returns a live view (fields are filled in beforeAll).
 */
export function useNetwork(options: { n?: number; k?: number; gatherHedgeMs?: number; client?: Partial<ClientOptions> } = {}): TestNetwork {
  const names = ["hank", "helen", "hilary", "holly", "hugo", "hunter", "huey"].slice(0, options.n ?? 5);
  const net = {} as TestNetwork;
  net.read = () =>
    accounting(
      net.hubs.map((h) => h.hub),
      [
        { name: "carol", store: net.carol.store },
        { name: "curtis", store: net.curtis.store },
      ],
    );
  let running: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    const started = await startNetwork({
      hubs: names,
      k: options.k ?? 3,
      client: mergeClientOptions({ gather: { hedgeMs: options.gatherHedgeMs ?? 100 } }, options.client ?? {}),
    });
    running = started;
    net.hubs = started.hubs;
    net.carol = started.carol;
    net.curtis = started.curtis;
  });
  afterAll(() => running?.close());
  return net;
}
