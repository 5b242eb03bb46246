/**
 * The standalone client: `startClientServer` (FileStore and state under the state dir, the client
 * router on a port, structured logs (pino JSON lines on stdout with request IDs), Prometheus
 * metrics and the OpenAPI document + docs page also at the app root (`/metrics`, `/openapi.json`,
 * `/docs`), graceful stop) and `runClientCli`. Argument parsing is in args.ts; `server.ts` is the
 * bin entry that calls `runClientCli`.
 */
import { promises as fs } from "node:fs";
import http, { type Server } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { CommanderError } from "commander";
import express from "express";
import {
  NodeMetrics,
  createNodeLogger,
  openNodeLog,
  crossSiteGuard,
  isLoopbackHost,
  mountObservability,
  operatorTokenOf,
  requestIdMiddleware,
} from "@dske/server";
import { FileStore, type PsrdStore } from "@dske/psrd";
import { openPgClientStorage, type OpenedClientStorage } from "../storage/client-storage.js";
import { Client } from "../client.js";
import { clientOpenApi } from "../http/routes.js";
import type { ClientMetrics } from "../client-metrics.js";
import { pinoLogger, type Logger } from "../logger.js";
import { plainRemoteHubUrls } from "../hub-tls.js";
import { REFERENCE_HUB_NOTICE, hubNameOfUrl } from "../reference-hub.js";
import { createClientRouter } from "../http/router.js";
import { ClientUsageError, parseClientArgs, plainRemoteHubMessage, type ClientServerConfig } from "./args.js";

export { ClientUsageError, parseClientArgs, type ClientServerConfig, type ClientTlsConfig } from "./args.js";

export interface RunningClientServer {
  client: Client;
  server: Server;
  url: string;
  /** Graceful stop: close the server, finish background work, flush and close the stores. */
  stop(): Promise<void>;
  /** Resolves when stopped (by stop(), the mgmt stop route, or a signal handler calling stop). */
  stopped: Promise<void>;
  /** The node's metrics (served at `/metrics` and `/client/NAME/metrics`). */
  metrics: ClientMetrics;
}

export interface StartClientServerOptions {
  /** Where log lines go (default: pino JSON lines on stdout, with node name and request IDs). */
  logger?: Logger;
  /** Also collect process metrics (CPU, memory, event loop) in the node's registry (default false; the bin sets it). */
  processMetrics?: boolean;
}

export async function startClientServer(config: ClientServerConfig, options: StartClientServerOptions = {}): Promise<RunningClientServer> {
  const logger = options.logger ?? pinoLogger(createNodeLogger({ kind: "client", name: config.name }));
  const operatorToken = await operatorTokenOf(config, (m) => new ClientUsageError(m));
  const insecureBind = config.tls === undefined && !isLoopbackHost(config.host);
  if (insecureBind && config.allowInsecureBind !== true) {
    throw new ClientUsageError(`--host ${config.host} is not a loopback address: give --allow-insecure-bind (or TLS) to serve on it`);
  }
  const plainRemoteHubs = plainRemoteHubUrls(config.hubs);
  if (plainRemoteHubs.length > 0 && config.allowInsecureBind !== true) {
    throw new ClientUsageError(`--hubs ${plainRemoteHubMessage(plainRemoteHubs[0])}`);
  }
  const insecure = insecureBind || plainRemoteHubs.length > 0;
  // A state directory this start created (mkdir returns undefined when it existed) is removed again
  // if the start fails (e.g. the port is taken). Only the node's own directory: a parent created
  // here may meanwhile hold other nodes' directories.
  const createdDir = (await fs.mkdir(config.stateDir, { recursive: true, mode: 0o700 })) !== undefined;
  const removeCreatedDir = () => (createdDir ? fs.rm(config.stateDir, { recursive: true, force: true }) : Promise.resolve());
  const storage = config.storage?.kind === "postgres" ? config.storage : undefined;
  const auditLog = path.join(config.stateDir, "psrd-audit.jsonl");
  let shared: OpenedClientStorage | undefined;
  if (storage) {
    try {
      shared = await openPgClientStorage(storage, config.name, auditLog, (m) => logger.error("shared client state", { error: m }));
    } catch (err) {
      await removeCreatedDir();
      throw new ClientUsageError(`--storage postgres (URL from ${storage.urlSource}): ${err instanceof Error ? err.message : String(err)}`);
    }
    logger.info("client state in PostgreSQL", { storage: "postgres", replica: shared.replica });
  }
  const store: PsrdStore = shared ? shared.psrdStore : await FileStore.open(path.join(config.stateDir, "psrd"), { auditLog });
  let client: Client;
  try {
    client = await Client.create({
      ...(shared ? { nodeStateBackend: shared.state, deliveryLedger: shared.state } : {}),
      name: config.name,
      encryptors: config.encryptors,
      hubs: config.hubs,
      psrdStore: store,
      minNrShares: config.minNrShares,
      ...(config.hubPositions !== undefined ? { hubPositions: config.hubPositions } : {}),
      ...(config.gatherMinNrShares !== undefined ? { gatherMinNrShares: config.gatherMinNrShares } : {}),
      keySource: config.keySource,
      stateDir: config.stateDir,
      kmeDirectory: config.kmeDirectory,
      ...(config.hubCa ? { hubTls: { ca: config.hubCa.ca } } : {}),
      logger,
      psrd: {
        startThreshold: config.startRequestPsrdThreshold,
        stopThreshold: config.stopRequestPsrdThreshold,
        blockSize: config.getPsrdBlockSize,
        delivery: config.psrdDelivery,
        initialBytes: config.initialPsrdBytes,
        waitMs: config.psrdWaitMs,
      },
      stock: { aheadMs: config.keyStockAheadMs, ttlMs: config.keyStockTtlMs, minRate: config.keyStockMinRate },
      referenceSaes: config.referenceSaes,
      referenceHubs: config.referenceHubs,
      link: config.authSchemes ? { authScheme: config.authSchemes[0], requireAuthScheme: !config.authSchemes.includes("hmac-sha256") } : {},
      ...(config.anonymousSingleSae === true ? { etsi: { anonymousSingleSae: true } } : {}),
    });
  } catch (err) {
    await store.close();
    await shared?.state.close().catch(() => undefined);
    await removeCreatedDir();
    throw err;
  }
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const app = express();
  app.set("etag", false);
  app.disable("x-powered-by");
  const node = new NodeMetrics({ kind: "client", name: config.name, processMetrics: options.processMetrics });
  app.use(requestIdMiddleware());
  app.use(node.httpMiddleware());
  app.use(crossSiteGuard({ metrics: node }));
  const router = createClientRouter({
    client,
    logger,
    metrics: node,
    onStop: () => stop(),
    saeAuthentication: config.tls ? "tls-client-certificate" : "authorization-header",
    operatorToken,
    insecure,
  });
  const metrics = router.metrics;
  if (metrics === undefined) throw new Error("client router has no metrics although given a registry");
  app.use(router);
  // The same document, page, health and metrics (operator only) at the app root (one node per process).
  const root = express.Router();
  mountObservability(root, {
    prefix: "",
    title: `DSKE client ${config.name} API`,
    document: () => clientOpenApi(config.name, { rootAliases: true }),
    metrics: node,
    operatorGuard: router.operatorGuard,
  });
  app.use(root);
  app.use((_req, res) => {
    res.status(404).json({ message: "not found" });
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s: Server = config.tls
      ? https.createServer(
          {
            cert: config.tls.cert,
            key: config.tls.key,
            ca: config.tls.ca,
            requestCert: true,
            rejectUnauthorized: true,
            minVersion: "TLSv1.2",
          },
          app,
        )
      : http.createServer(app);
    // Keep idle keep-alive connections of SAEs open well beyond Node's 5 s default: an SAE that
    // reuses a pooled connection just as the server closes it gets ECONNRESET for a request that
    // may or may not have been served (same setting as the hub standalone).
    s.keepAliveTimeout = 65_000;
    s.listen(config.port, config.host, () => resolve(s));
    s.once("error", reject);
  }).catch(async (err: unknown) => {
    await client.stop();
    await store.close();
    await removeCreatedDir();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") {
      throw new ClientUsageError(
        `--port ${config.port} is already in use on ${config.host}: choose another port or stop the program using it`,
      );
    }
    throw err;
  });
  await client.start();
  const address = server.address() as AddressInfo;
  const url = `${config.tls ? "https" : "http"}://${config.host}:${address.port}`;
  if (config.tls) {
    logger.info(
      "ETSI API over HTTPS with mutual TLS: SAE identity is the client certificate CN; management needs the operator certificate",
    );
  } else {
    logger.warn("ETSI API over plain HTTP: SAE identity is taken from the Authorization header and is NOT authenticated");
  }
  if (client.anonymousSae !== undefined) {
    logger.warn(
      "ETSI calls without an Authorization header are taken as from one SAE (--allow-anonymous-sae): every local process can get its keys",
      {
        sae: client.anonymousSae,
      },
    );
  }
  for (const hub of plainRemoteHubs) {
    logger.warn("INSECURE: hub over plain HTTP off loopback (--allow-insecure-bind): registration and shares cross the network in clear", {
      hub: hubNameOfUrl(hub),
      url: hub,
    });
  }
  if (insecureBind) {
    logger.warn(
      "INSECURE: plain HTTP on a non-loopback address (--allow-insecure-bind): SAE identities, keys and the operator token cross the network in clear",
      {
        host: config.host,
      },
    );
  }
  if (config.referenceSaes && config.referenceSaes.length > 0) {
    logger.warn(
      "keys with reference-implementation KMEs use the reference share format: a 4-byte HMAC-SHA256 digest (about 2^-32 per forged attempt) instead of the 128-bit check word",
      { saes: config.referenceSaes },
    );
  }
  for (const hub of client.peerHubs.filter((h) => h.reference)) {
    logger.warn(
      "reference hub (--reference-hubs): registration and GET psrd without proof of identity; whoever can reach the hub can fetch or reset this client's PSRD with it",
      { hub: hub.name, reason: REFERENCE_HUB_NOTICE },
    );
  }
  if (operatorToken === undefined && !config.tls) logger.warn("no --operator-token-file: management (status, stop, metrics) is disabled");

  function stop(): Promise<void> {
    stopping ??= (async () => {
      logger.info("stopping");
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      await client.stop();
      await store.close();
      logger.info("stopped");
      resolveStopped();
    })();
    return stopping;
  }
  return { client, server, url, stop, stopped, metrics };
}

/** The bin entry: parse, open the log, start, log `listening` (with its url), stop on SIGTERM/SIGINT or mgmt stop. */
export async function runClientCli(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let config: ClientServerConfig;
  try {
    config = await parseClientArgs(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = 0;
      return;
    }
    process.stderr.write(`dske-client: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  // The node's log (JSON lines; with --log-file written and rotated by the node itself).
  const log = openNodeLog({ kind: "client", name: config.name, log: config.log });
  let running: RunningClientServer;
  try {
    running = await startClientServer(config, { processMetrics: true, logger: pinoLogger(log.logger) });
  } catch (err) {
    log.logger.fatal({ error: (err as Error).message }, "cannot start");
    process.exitCode = 1;
    await log.close();
    return;
  }
  log.logger.info({ url: running.url }, "listening");
  const onSignal = () => void running.stop();
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  await running.stopped;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  await log.close();
}
