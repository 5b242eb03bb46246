/**
 * The standalone hub: `startHubServer` (FileStore under the state dir, the hub router on a port,
 * structured request logging (pino, request IDs), Prometheus metrics and the OpenAPI document +
 * docs page also at the app root (`/metrics`, `/openapi.json`, `/docs`), graceful stop) and
 * `runHubCli` (the `dske-hub` binary; server.ts calls it). The command line is parsed in args.ts.
 */
import { promises as fs } from "node:fs";
import type { AddressInfo } from "node:net";
import http, { type Server } from "node:http";
import https from "node:https";
import path from "node:path";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { FileStore, type PsrdStore } from "@dske/psrd";
import { openPgHubState, openPgPsrdStore } from "../storage/hub-storage.js";
import type { Logger } from "@dske/protocol";
import {
  NodeMetrics,
  createNodeLogger,
  crossSiteGuard,
  isLoopbackHost,
  lineLogger,
  mountObservability,
  openNodeLog,
  operatorTokenOf,
  pinoLogger,
  requestIdMiddleware,
  type PinoLogger,
} from "@dske/server";
import { Hub } from "../hub.js";
import { startDistribution, type RunningDistribution } from "../distribution.js";
import { createHubRouter } from "../http/router.js";
import { hubOpenApi } from "../http/routes.js";
import { CliUsageError, parseHubArgs, readDistributionPlan, readHubTls, readPem, type HubServerConfig } from "./args.js";

export { CliUsageError, parseHubArgs, type HubServerConfig } from "./args.js";

export interface RunningHubServer {
  readonly hub: Hub;
  readonly server: Server;
  /** `http://HOST:PORT` (`https://` with --tls-cert) actually bound. */
  readonly url: string;
  /** Close the server, the hub and the store (idempotent). */
  stop(): Promise<void>;
  /** The node's metrics registry (served at `/metrics` and `/hub/NAME/metrics`). */
  readonly metrics: NodeMetrics;
  /** The node's logger. */
  readonly logger: PinoLogger;
}

export interface StartHubServerOptions {
  /** Structured log (default: pino JSON lines on stdout, see createNodeLogger). */
  logger?: PinoLogger;
  /** Plain-text alternative to `logger`: one line per event, the message then its fields as key=value (request lines: `METHOD /path STATUS 1.2ms`). */
  log?: (line: string) => void;
  /** Also collect process metrics (CPU, memory, event loop) in the node's registry (default false; the bin sets it). */
  processMetrics?: boolean;
  /** Called after a stop requested over HTTP (mgmt/v1/stop) completed; e.g. process.exit(0). */
  onStopped?: () => void;
  /**
   * Called once the hub is open, before the hub router is mounted: e.g. add middleware in front of
   * it (the test server adds its fault injection here, ../testing/test-server.ts).
   */
  setup?: (context: { hub: Hub; app: Express; logger: Logger }) => void;
  /**
   * Start the local distributor (--distribution-plan) once this resolves, not as soon as the hub
   * listens. The node host passes a promise it resolves once its clients listen: a distributor
   * started before them only finds closed ports, logs a warning per client and retries after a
   * backoff that grows while they start. Not started if the hub was stopped meanwhile.
   */
  distributeAfter?: Promise<void>;
}

/** Open the FileStore and the hub under the state dir and listen. */
export async function startHubServer(config: HubServerConfig, options: StartHubServerOptions = {}): Promise<RunningHubServer> {
  const logger =
    options.logger ??
    (options.log ? lineLogger(options.log, { kind: "hub", name: config.name }) : createNodeLogger({ kind: "hub", name: config.name }));
  const domainLogger = pinoLogger(logger);
  const operatorToken = await operatorTokenOf(config, (m) => new CliUsageError(m));
  const insecure = !isLoopbackHost(config.host) && config.tls === undefined;
  if (insecure && config.allowInsecureBind !== true) {
    throw new CliUsageError(
      `--host ${config.host} is not a loopback address: serve HTTPS (--tls-cert/--tls-key), or give --allow-insecure-bind to serve plain HTTP on it`,
    );
  }
  // Read before the state dir exists: a bad TLS file leaves nothing behind.
  const tls = config.tls ? await readHubTls(config.tls) : undefined;
  const plan = config.distributionPlan ? await readDistributionPlan(config.distributionPlan) : undefined;
  const distributorTls = config.distributorTls
    ? {
        tlsCa: await readPem(config.distributorTls.ca, "--distributor-tls-ca"),
        ...(config.distributorTls.cert ? { tlsCert: await readPem(config.distributorTls.cert, "--distributor-tls-cert") } : {}),
        ...(config.distributorTls.key ? { tlsKey: await readPem(config.distributorTls.key, "--distributor-tls-key") } : {}),
      }
    : {};
  // A state directory this start created (mkdir returns undefined when it existed) is removed again
  // if the start fails (e.g. the port is taken). Only the node's own directory: a parent created
  // here may meanwhile hold other nodes' directories.
  const createdDir = (await fs.mkdir(config.stateDir, { recursive: true, mode: 0o700 })) !== undefined;
  const removeCreatedDir = () => (createdDir ? fs.rm(config.stateDir, { recursive: true, force: true }) : Promise.resolve());
  const storage = config.storage?.kind === "postgres" ? config.storage : undefined;
  let shared: Awaited<ReturnType<typeof openPgHubState>> | undefined;
  if (storage) {
    try {
      shared = await openPgHubState(storage, config.name, config.shareTimeoutSecs, (m) => logger.error({ error: m }, "shared hub state"));
    } catch (err) {
      await removeCreatedDir();
      throw new CliUsageError(`--storage postgres (URL from ${storage.urlSource}): ${err instanceof Error ? err.message : String(err)}`);
    }
    logger.info({ storage: "postgres", replica: shared.backend.replica }, "hub state in PostgreSQL");
  }
  let store: PsrdStore;
  try {
    store = storage
      ? await openPgPsrdStore(storage, config.psrdAuditLog)
      : await FileStore.open(path.join(config.stateDir, "psrd"), { auditLog: config.psrdAuditLog });
  } catch (err) {
    await shared?.backend.close().catch(() => undefined);
    shared?.close();
    await removeCreatedDir();
    throw err;
  }
  let hub: Hub;
  try {
    hub = await Hub.open({
      ...(shared ? { stateBackend: shared.backend } : {}),
      name: config.name,
      store,
      stateDir: config.stateDir,
      shareTimeoutSecs: config.shareTimeoutSecs,
      authSchemes: config.authSchemes,
      maxPsrdBlockBytes: config.maxPsrdBlockBytes,
      acceptClients: config.acceptClients,
      psrdDelivery: config.psrdDelivery,
      maxClients: config.maxClients,
      maxPoolBytes: config.maxPoolBytes,
      maxPoolBlocks: config.maxPoolBlocks,
      ...(config.referenceClients ? { referenceClients: config.referenceClients } : {}),
      logger: domainLogger,
    });
  } catch (err) {
    await store.close();
    await shared?.backend.close().catch(() => undefined);
    shared?.close();
    await removeCreatedDir();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  let distribution: RunningDistribution | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await distribution?.stop();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 3000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      await hub.close();
      await store.close();
      shared?.close();
    })();
    return stopping;
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const metrics = new NodeMetrics({ kind: "hub", name: config.name, processMetrics: options.processMetrics });
  app.use(requestIdMiddleware({ logger }));
  app.use(metrics.httpMiddleware());
  app.use(crossSiteGuard({ metrics }));
  options.setup?.({ hub, app, logger: domainLogger });
  const router = createHubRouter({
    hub,
    metrics,
    logger,
    operatorToken,
    operatorCertificate: tls?.ca !== undefined,
    insecure,
    onStop: async () => {
      domainLogger.info("stop requested");
      await stop();
      options.onStopped?.();
    },
    onError: (err) => logger.error({ err }, "unexpected error"),
  });
  app.use(router);
  // The same document, page and metrics at the app root (one node per process).
  const root = express.Router();
  mountObservability(root, {
    prefix: "",
    title: `DSKE hub ${config.name} API`,
    document: () => hubOpenApi(config.name, { rootAliases: true }),
    metrics,
    operatorGuard: router.operatorGuard,
  });
  app.use(root);
  app.use((req: Request, res: Response) => {
    res.status(404).json({ message: `no such endpoint: ${req.method} ${req.path}`, details: [{ hub: config.name }] });
  });
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express recognises an error handler by its four parameters
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err }, "unexpected error");
    if (!res.headersSent) res.status(500).json({ message: "internal error in the hub" });
    else res.end();
  });

  // `stop` (above) reads it: it runs only once the server listens (mgmt stop, signals).
  const server = await new Promise<Server>((resolve, reject) => {
    const s = tls
      ? https.createServer(
          {
            cert: tls.cert,
            key: tls.key,
            minVersion: "TLSv1.2",
            // With --tls-ca a client certificate is asked for but optional: clients (KMEs) sign
            // with their PSRD and the operator may use its token. Only a certificate that verified
            // against the CA counts (peerCertificateCn reads socket.authorized).
            ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
          },
          app,
        )
      : http.createServer(app);
    s.listen(config.port, config.host);
    s.once("listening", () => resolve(s));
    s.once("error", reject);
  }).catch(async (err: unknown) => {
    await hub.close();
    await store.close();
    await removeCreatedDir();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE")
      throw new CliUsageError(
        `--port ${config.port} is already in use on ${config.host}: choose another port or stop the process using it`,
      );
    throw err;
  });
  server.keepAliveTimeout = 65_000;
  // Only for clients this hub issues bundles to (not, say, only reference clients, which take GET psrd).
  const served = plan ? plan.clients.filter((c) => hub.accepts(c.name)).length : 0;
  if (plan && served > 0) {
    const distribute = (): void => {
      if (stopping !== undefined) return;
      distribution = startDistribution({ hub, plan, operatorToken, ...distributorTls, logger: domainLogger });
      domainLogger.info("local distributor serving clients", { count: served });
    };
    if (options.distributeAfter === undefined) distribute();
    else void options.distributeAfter.then(distribute);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${tls ? "https" : "http"}://${host}:${address.port}`;
  if (insecure) {
    logger.warn(
      { host: config.host, reason: "--allow-insecure-bind: the operator token and PSRD cross the network in clear" },
      "INSECURE: plain HTTP on a non-loopback address",
    );
  }
  if (tls) {
    logger.info({ management: tls.ca ? "operator certificate (--tls-ca) or operator token" : "operator token" }, "HTTPS (TLS 1.2+)");
  }
  if (operatorToken === undefined && tls?.ca === undefined)
    logger.warn("no --operator-token-file: management (status, stop, metrics) is disabled");
  return { hub, server, url, stop, metrics, logger };
}

/** The bin: parse, open the log, start, log `listening` (with its url), stop gracefully on SIGTERM/SIGINT or mgmt stop. */
export async function runHubCli(
  argv: readonly string[] = process.argv.slice(2),
  options: Pick<StartHubServerOptions, "setup"> = {},
): Promise<void> {
  let config: HubServerConfig;
  try {
    config = parseHubArgs(argv);
  } catch (err) {
    if (err instanceof CliUsageError) {
      if (argv.includes("--help") || argv.includes("-h")) {
        process.stdout.write(err.message);
        process.exitCode = 0;
      } else {
        process.stderr.write(`dske-hub: ${err.message}\n`);
        process.exitCode = 2;
      }
      return; // nothing else keeps the process alive: it exits with exitCode once output is flushed
    }
    throw err;
  }
  // The node's log (JSON lines; with --log-file written and rotated by the node itself).
  const log = openNodeLog({ kind: "hub", name: config.name, log: config.log });
  const exit = (code: number) => void log.close().finally(() => process.exit(code));
  let running: RunningHubServer;
  try {
    running = await startHubServer(config, { ...options, logger: log.logger, onStopped: () => exit(0), processMetrics: true });
  } catch (err) {
    log.logger.fatal({ error: err instanceof Error ? err.message : String(err) }, "cannot start");
    process.exitCode = 1;
    await log.close();
    return;
  }
  log.logger.info({ url: running.url }, "listening");
  const onSignal = (signal: string) => {
    running.logger.info({ signal }, "stopping");
    running
      .stop()
      .then(() => exit(0))
      .catch((err: unknown) => {
        running.logger.error({ error: String(err) }, "error while stopping");
        exit(1);
      });
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
}
