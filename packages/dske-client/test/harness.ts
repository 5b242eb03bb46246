/** In-process network for integration tests: hubs (createHubRouter) and clients (createClientRouter) on port 0. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type http from "node:http";
import express from "express";
import { Hub, createHubRouter } from "@dske/hub";
import { MemoryStore, type PsrdStore } from "@dske/psrd";
import { LocalDistributor, peekBundleHeader, writeBundleFile, type DistributorTransport } from "@dske/distributor";
import { Client, type ClientOptions } from "../src/client";
import { createClientRouter } from "../src/http/router";
import { EtsiApi, type Logger } from "@dske/protocol";

/** The operator token of the in-process hubs and clients (management routes and /metrics). */
export const TEST_OPERATOR_TOKEN = "test-operator-token-0123456789abcdef";
/** `Authorization` header of the operator. */
export const OPERATOR_AUTH = { Authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };

export interface TestHub {
  name: string;
  hub: Hub;
  store: MemoryStore;
  port: number;
  url: string;
  server: http.Server | undefined;
  /** Stop listening (connections refused); the hub keeps its state. */
  down(): Promise<void>;
  /** Listen again on the same port with the same state. */
  up(): Promise<void>;
  /** Where the hub writes PSRD bundles (a temporary directory). */
  outbox: string;
}

let inboxDir: string | undefined;
/** A temporary directory for bundles of hubs without an outbox. */
function inboxRoot(): string {
  inboxDir ??= mkdtempSync(path.join(tmpdir(), "dske-bundles-"));
  return inboxDir;
}

/** Hubs known here, by base URL: clients started here get their PSRD from them in bundles. */
const startedHubs = new Map<string, { name: string; hub: () => Hub }>();

/**
 * Make a hub started elsewhere (e.g. on a FileStore) a PSRD source for clients started here;
 * `hub` is read at each call, so a restarted hub (new object, same URL) keeps serving.
 */
export function registerTestHub(url: string, name: string, hub: () => Hub): void {
  startedHubs.set(url.replace(/\/+$/, ""), { name, hub });
}

function listen(app: express.Express, port = 0): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, "127.0.0.1", () => resolve(server));
    // As the standalone servers: longer than a caller's idle keep-alive socket lives (Node's
    // global agent: 5 s), so a caller never reuses a socket the server is closing at that very
    // moment (ECONNRESET; seen under load when a test paused more than 5 s between requests).
    server.keepAliveTimeout = 65_000;
    server.once("error", reject);
  });
}

function close(server: http.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** `before`: mount test middleware (e.g. a gate) on the hub's app before the hub router. */
export async function startHub(
  name: string,
  options: { before?: (app: express.Express) => void; psrdDelivery?: "bundle" | "network"; logger?: Logger } = {},
): Promise<TestHub> {
  const store = new MemoryStore();
  const outbox = mkdtempSync(path.join(tmpdir(), `dske-outbox-${name}-`));
  const hub = await Hub.open({
    name,
    store,
    shareTimeoutSecs: 60,
    sweepIntervalMs: 0,
    outboxDir: outbox,
    psrdDelivery: options.psrdDelivery,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const app = express();
  options.before?.(app);
  app.use(createHubRouter({ hub, onError: () => undefined, operatorToken: TEST_OPERATOR_TOKEN }));
  const server = await listen(app);
  const port = (server.address() as AddressInfo).port;
  const t: TestHub = {
    name,
    hub,
    store,
    port,
    url: `http://127.0.0.1:${port}/hub/${name}`,
    server,
    outbox,
    async down() {
      await close(t.server);
      t.server = undefined;
    },
    async up() {
      if (!t.server) t.server = await listen(app, port);
    },
  };
  registerTestHub(t.url, name, () => t.hub);
  return t;
}

export interface TestClient {
  client: Client;
  /** The client's state dir, if it has one (its bundle chains and registrations live there). */
  stateDir: string | undefined;
  /** The in-process local distributors serving this client (one per hub started here). */
  distributors: LocalDistributor[];
  store: PsrdStore;
  port: number;
  server: http.Server;
  /** ETSI client for an SAE at this KME's standard root. */
  etsi(sae: string): EtsiApi;
  close(): Promise<void>;
}

/** Client options layered: later ones win, option groups (`psrd`, `link`, `stock`, `gather`) merged field by field. */
export function mergeClientOptions(...layers: Partial<ClientOptions>[]): Partial<ClientOptions> {
  const out: Partial<ClientOptions> = {};
  for (const l of layers) {
    Object.assign(out, l, {
      psrd: { ...out.psrd, ...l.psrd },
      link: { ...out.link, ...l.link },
      stock: { ...out.stock, ...l.stock },
      gather: { ...out.gather, ...l.gather },
    });
  }
  return out;
}

export async function startClient(options: Omit<ClientOptions, "psrdStore"> & { psrdStore?: PsrdStore }): Promise<TestClient> {
  const store = options.psrdStore ?? new MemoryStore();
  // The key stock is off by default here: these tests drive the on-demand protocol path (every
  // enc_keys reaches the hubs); key-stock.test.ts turns it on.
  const defaults: Partial<ClientOptions> = { link: { retryInitialMs: 20, retryMaxMs: 200, timeoutMs: 3000 }, stock: { aheadMs: 0 } };
  const client = await Client.create(mergeClientOptions(defaults, options, { psrdStore: store }) as ClientOptions);
  const distributors = startInProcessDistributors(client, options.hubs);
  await client.start();
  const app = express();
  app.use(createClientRouter({ client, operatorToken: TEST_OPERATOR_TOKEN }));
  const server = await listen(app);
  const port = (server.address() as AddressInfo).port;
  const apis: EtsiApi[] = [];
  return {
    client,
    stateDir: options.stateDir,
    distributors,
    store,
    port,
    server,
    etsi(sae: string) {
      const api = new EtsiApi(`http://127.0.0.1:${port}`, sae);
      apis.push(api);
      return api;
    },
    async close() {
      for (const a of apis) a.close();
      await close(server);
      await Promise.all(distributors.map((d) => d.stop()));
      await client.stop();
      await store.close();
    },
  };
}

/** Sum of `used` bytes over every pool of a client's store. */
export async function usedBytes(store: PsrdStore): Promise<number> {
  let total = 0;
  for (const name of await store.listPools()) {
    const owner = name.endsWith("client-owned") ? "local" : "peer";
    total += (await store.openPool(name, owner)).stats().used;
  }
  return total;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The two-client network most tests use: carol hosts the masters, curtis sunny and susan. */
export interface TestNetwork<H extends TestHub = TestHub> {
  hubs: H[];
  carol: TestClient;
  curtis: TestClient;
  close(): Promise<void>;
}

/**
 * Hubs `hubs` (started with `startHub`, or `options.startHub` for gated/faulty ones), carol
 * [`carolSaes`, default sam and sue] and curtis [sunny, susan], both registered with every hub,
 * k = `k`; `client` adds client options. `close()` stops clients, then hubs.
 */
export async function startNetwork<H extends TestHub = TestHub>(options: {
  hubs: readonly string[];
  k: number;
  carolSaes?: readonly string[];
  client?: Partial<ClientOptions>;
  startHub?: (name: string) => Promise<H>;
  /** Give carol and curtis temporary state dirs (needed to restart one on its PSRD store). */
  stateDirs?: boolean;
}): Promise<TestNetwork<H>> {
  const start = options.startHub ?? ((name: string) => startHub(name) as Promise<H>);
  const hubs = await Promise.all(options.hubs.map((n) => start(n)));
  const carolSaes = [...(options.carolSaes ?? ["sam", "sue"])];
  const directory: Record<string, string> = { sunny: "curtis", susan: "curtis" };
  for (const sae of carolSaes) directory[sae] = "carol";
  const common = mergeClientOptions(
    { hubs: hubs.map((h) => h.url), minNrShares: options.k, kmeDirectory: directory },
    options.client ?? {},
  ) as Omit<ClientOptions, "name" | "encryptors" | "psrdStore">;
  const dir = (name: string) => (options.stateDirs ? { stateDir: mkdtempSync(path.join(tmpdir(), `dske-${name}-`)) } : {});
  const carol = await startClient({ name: "carol", encryptors: carolSaes, ...common, ...dir("carol") });
  const curtis = await startClient({ name: "curtis", encryptors: ["sunny", "susan"], ...common, ...dir("curtis") });
  await carol.client.whenRegistered();
  await curtis.client.whenRegistered();
  return {
    hubs,
    carol,
    curtis,
    async close() {
      for (const c of [carol, curtis]) await c.close();
      for (const h of hubs) {
        await h.down();
        await h.hub.close();
      }
    },
  };
}

/**
 * The hubs' local distributors, in process: for each hub of `hubUrls` started by `startHub`, a
 * LocalDistributor (@dske/distributor) serving this client with the real bundle flow (the client
 * states its needs, the hub issues a sealed bundle file, the client installs it) minus HTTP.
 */
export function startInProcessDistributors(client: Client, hubUrls: readonly string[]): LocalDistributor[] {
  const hubs = hubUrls.map((url) => startedHubs.get(url.replace(/\/+$/, ""))).filter((t) => t !== undefined);
  return distributorsFor(client, hubs);
}

/** startInProcessDistributors for hubs started elsewhere (e.g. the client bench): one LocalDistributor per hub. */
export function distributorsFor(client: Client, hubs: readonly { name: string; hub: () => Hub }[]): LocalDistributor[] {
  const out: LocalDistributor[] = [];
  for (const t of hubs) {
    const transport: DistributorTransport = {
      needs: (_c, waitMs, signal) => client.psrdNeeds(waitMs, signal, t.name),
      issue: async (_h, c, clientOwned, hubOwned) => {
        const hub = t.hub();
        if (hub.hasOutbox) {
          const r = await hub.issueBundle(c, clientOwned, hubOwned);
          return { file: r.file, seq: r.seq };
        }
        // A hub without an outbox (in memory): the bytes, written to a file of our own.
        const bytes = await hub.issueBundleBytes(c, clientOwned, hubOwned);
        try {
          const seq = peekBundleHeader(bytes).seq;
          const file = path.join(inboxRoot(), `${t.name}-${c}-${String(seq).padStart(6, "0")}.psrd`);
          await writeBundleFile(file, bytes);
          return { file, seq };
        } finally {
          bytes.fill(0);
        }
      },
      deliver: (_c, file) => Promise.resolve(file),
      install: async (_c, file) => {
        await client.installBundle(file);
      },
    };
    const d = new LocalDistributor({ clients: [client.name], transport, pollWaitMs: 5000, backoff: { initialMs: 20, maxMs: 500 } });
    d.start();
    out.push(d);
  }
  return out;
}
