/**
 * The standalone hub: argument parsing (commander + zod) and `startHubServer` (FileStore under the
 * state dir, the hub router on a port, structured request logging (pino, request IDs), Prometheus
 * metrics and the OpenAPI document + docs page also at the app root (`/metrics`, `/openapi.json`,
 * `/docs`), graceful stop). `server.ts` is the bin entry that calls `runHubCli`.
 */
import { promises as fs } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import path from "node:path";
import { Command, CommanderError } from "commander";
import express, { type NextFunction, type Request, type Response } from "express";
import { z } from "zod";
import type { AuthSchemeName } from "@dske/auth";
import { FileStore } from "@dske/psrd";
import { Hub } from "./hub.js";
import { installTestFaults } from "./test-faults.js";
import { createHubRouter } from "./router.js";
import { mountObservability } from "@dske/server";
import { hubOpenApi } from "./hub-routes.js";
import { createNodeLogger, lineLogger, requestIdMiddleware, type PinoLogger } from "@dske/server";
import { NodeMetrics } from "@dske/server";
import { crossSiteGuard, isLoopbackHost, operatorTokenOf } from "@dske/server";
import { AUTH_SCHEMES, NodeNameSchema } from "@dske/protocol";
import { DistributionPlanSchema, startDistribution, type DistributionPlan, type RunningDistribution } from "./distribution.js";

async function readDistributionPlan(file: string): Promise<DistributionPlan> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, "utf8")) as unknown;
  } catch (err) {
    throw new CliUsageError(`--distribution-plan ${file}: cannot read it as JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = DistributionPlanSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CliUsageError(`--distribution-plan ${file}: ${i.path.join(".") || "(root)"}: ${i.message}; expected {"clients": [{"name", "url", "inbox"}]}`);
  }
  return r.data;
}

async function readPem(file: string, option: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new CliUsageError(`${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export interface HubServerConfig {
  name: string;
  port: number;
  host: string;
  shareTimeoutSecs: number;
  stateDir: string;
  authSchemes: AuthSchemeName[];
  psrdAuditLog: string;
  maxPsrdBlockBytes?: number;
  /** Acceptance policy: client names this hub registers (absent: every client the operator provisions). */
  acceptClients?: string[];
  psrdDelivery?: "bundle" | "network";
  maxClients?: number;
  maxPoolBytes?: number;
  maxPoolBlocks?: number;
  /** JSON distribution plan (distribution.ts): run this hub's local distributor for those clients. */
  distributionPlan?: string;
  /** PEM files for the distributor's calls to clients served over HTTPS (CA; operator certificate and key). */
  distributorTls?: { ca: string; cert?: string; key?: string };
  /** `--operator-token-file`: the operator token is read from it at start (see operator.ts). */
  operatorTokenFile?: string;
  /** The operator token itself (library use; takes precedence over operatorTokenFile). */
  operatorToken?: string;
  /** `--allow-insecure-bind`: plain HTTP on a non-loopback `host` (logged as a warning, status shows `insecure: true`). */
  allowInsecureBind?: boolean;
}

/** Bad command line: the message names the option and the fix. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
}

const optionSchemas = {
  name: NodeNameSchema,
  port: z.coerce.number().pipe(z.int().min(0).max(65535)),
  host: z.string().min(1),
  shareTimeoutSecs: z.coerce.number().pipe(z.number().positive().max(365 * 24 * 3600)),
  authSchemes: z.array(z.enum(AUTH_SCHEMES)).min(1),
  stateDir: z.string().min(1),
  psrdAuditLog: z.string().min(1),
  maxPsrdBlockBytes: z.coerce.number().pipe(z.int().min(1).max(16 * 1024 * 1024)),
  acceptClients: z.array(NodeNameSchema).min(1),
  psrdDelivery: z.enum(["bundle", "network"]),
  maxClients: z.coerce.number().pipe(z.int().min(1)),
  maxPoolBytes: z.coerce.number().pipe(z.int().min(1)),
  maxPoolBlocks: z.coerce.number().pipe(z.int().min(1)),
  distributionPlan: z.string().min(1),
  distributorTlsCa: z.string().min(1),
  operatorTokenFile: z.string().min(1),
};

const fixes: Record<keyof typeof optionSchemas, { option: string; hint: string }> = {
  name: { option: "NAME", hint: "use letters, digits, '_', '.', '-' (e.g. hank)" },
  port: { option: "--port", hint: "give an integer from 0 to 65535 (e.g. --port 8100)" },
  host: { option: "--host", hint: "give a host name or IP address (e.g. --host 127.0.0.1)" },
  shareTimeoutSecs: { option: "--share-timeout-secs", hint: "give a positive number of seconds (e.g. --share-timeout-secs 60)" },
  authSchemes: {
    option: "--auth-schemes",
    hint: `give a comma-separated list of ${AUTH_SCHEMES.join(", ")} (e.g. --auth-schemes gf128,hmac-sha256)`,
  },
  stateDir: { option: "--state-dir", hint: "give a directory path" },
  psrdAuditLog: { option: "--psrd-audit-log", hint: "give a file path" },
  maxPsrdBlockBytes: { option: "--max-psrd-block-bytes", hint: "give an integer from 1 to 16777216" },
  acceptClients: { option: "--accept-clients", hint: "give a comma-separated list of client names (e.g. --accept-clients carol,curtis)" },
  psrdDelivery: { option: "--psrd-delivery", hint: "give bundle (default: PSRD only in bundles carried out of band) or network" },
  maxClients: { option: "--max-clients", hint: "give a positive integer (e.g. --max-clients 1000)" },
  maxPoolBytes: { option: "--max-pool-bytes", hint: "give a positive integer number of bytes (e.g. --max-pool-bytes 1073741824)" },
  maxPoolBlocks: { option: "--max-pool-blocks", hint: "give a positive integer (e.g. --max-pool-blocks 4096)" },
  distributionPlan: { option: "--distribution-plan", hint: "give the path of a JSON distribution plan ({clients: [{name, url, inbox}]})" },
  distributorTlsCa: { option: "--distributor-tls-ca", hint: "give the path of a PEM CA file" },
  operatorTokenFile: { option: "--operator-token-file", hint: "give the path of the operator token file (mode 0600)" },
};

function check<K extends keyof typeof optionSchemas>(key: K, value: unknown): z.output<(typeof optionSchemas)[K]> {
  const r = optionSchemas[key].safeParse(value);
  if (!r.success) {
    const shown = Array.isArray(value) ? value.join(",") : String(value);
    throw new CliUsageError(`invalid ${fixes[key].option} ${JSON.stringify(shown)}: ${fixes[key].hint}`);
  }
  return r.data as z.output<(typeof optionSchemas)[K]>;
}

/** Parse `dske-hub NAME --port P ...` (argv without node and script). Throws CliUsageError. */
export function parseHubArgs(args: readonly string[]): HubServerConfig {
  const program = new Command("dske-hub")
    .description("DSKE security hub")
    .argument("<name>", "hub name, e.g. hank (paths are /hub/NAME/...)")
    .requiredOption("-p, --port <port>", "TCP port to listen on (0 = any free port)")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--share-timeout-secs <secs>", "delete unfetched shares after this many seconds", "60")
    .option("--state-dir <dir>", "durable state directory (default ./.dske/state/NAME)")
    .option("--auth-schemes <list>", "accepted auth schemes, in preference order (add hmac-sha256 only for reference peers)", "gf128")
    .option("--psrd-audit-log <file>", "PSRD audit log (default <state-dir>/psrd-audit.jsonl)")
    .option("--max-psrd-block-bytes <n>", "largest PSRD block a client may request", String(4 * 1024 * 1024))
    .option("--accept-clients <list>", "acceptance policy: the only client names this hub registers (default: every client the operator provisions)")
    .option("--psrd-delivery <mode>", "bundle (PSRD only in bundles carried out of band) or network (also GET psrd, authenticated)", "bundle")
    .option("--max-clients <n>", "most clients registered at once", "1000")
    .option("--max-pool-bytes <n>", "most available bytes in one pool of one client", String(1024 * 1024 * 1024))
    .option("--max-pool-blocks <n>", "most live blocks in one pool of one client", "4096")
    .option("--distribution-plan <file>", "run this hub's local distributor for the clients of this JSON plan ({clients: [{name, url, inbox}]})")
    .option("--distributor-tls-ca <file>", "PEM CA that clients served over HTTPS chain to (local distributor)")
    .option("--distributor-tls-cert <file>", "PEM client certificate the local distributor presents to HTTPS clients (the operator's)")
    .option("--distributor-tls-key <file>", "PEM key of --distributor-tls-cert")
    .option("--operator-token-file <file>", "file holding the operator token that management routes and /metrics require (mode 0600); without it management is disabled")
    .option("--allow-insecure-bind", "allow a non-loopback --host over plain HTTP (management and PSRD then cross the network in clear)")
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .allowExcessArguments(false);
  try {
    program.parse([...args], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.help") {
        throw new CliUsageError(program.helpInformation());
      }
      throw new CliUsageError(`${err.message.replace(/^error: /, "")}\n\n${program.helpInformation()}`);
    }
    throw err;
  }
  const o = program.opts<{
    port: string;
    host: string;
    shareTimeoutSecs: string;
    stateDir?: string;
    authSchemes: string;
    psrdAuditLog?: string;
    maxPsrdBlockBytes: string;
    acceptClients?: string;
    psrdDelivery: string;
    maxClients: string;
    maxPoolBytes: string;
    maxPoolBlocks: string;
    distributionPlan?: string;
    distributorTlsCa?: string;
    distributorTlsCert?: string;
    distributorTlsKey?: string;
    operatorTokenFile?: string;
    allowInsecureBind?: boolean;
  }>();
  const name = check("name", program.args[0]);
  const stateDir = check("stateDir", o.stateDir ?? path.join(".dske", "state", name));
  const schemes = o.authSchemes
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const host = check("host", o.host);
  const allowInsecureBind = o.allowInsecureBind === true;
  if (!isLoopbackHost(host) && !allowInsecureBind) {
    throw new CliUsageError(
      `--host ${host} is not a loopback address: the hub serves plain HTTP, so its management and PSRD would cross the network in clear; ` +
        "bind to 127.0.0.1 (the default), or add --allow-insecure-bind if the network is trusted",
    );
  }
  return {
    name,
    port: check("port", o.port),
    host,
    shareTimeoutSecs: check("shareTimeoutSecs", o.shareTimeoutSecs),
    stateDir: path.resolve(stateDir),
    authSchemes: check("authSchemes", schemes),
    psrdAuditLog: path.resolve(check("psrdAuditLog", o.psrdAuditLog ?? path.join(stateDir, "psrd-audit.jsonl"))),
    maxPsrdBlockBytes: check("maxPsrdBlockBytes", o.maxPsrdBlockBytes),
    ...(o.acceptClients !== undefined
      ? {
          acceptClients: check(
            "acceptClients",
            o.acceptClients
              .split(",")
              .map((c) => c.trim())
              .filter((c) => c.length > 0),
          ),
        }
      : {}),
    psrdDelivery: check("psrdDelivery", o.psrdDelivery),
    maxClients: check("maxClients", o.maxClients),
    maxPoolBytes: check("maxPoolBytes", o.maxPoolBytes),
    maxPoolBlocks: check("maxPoolBlocks", o.maxPoolBlocks),
    ...(o.distributionPlan !== undefined ? { distributionPlan: path.resolve(check("distributionPlan", o.distributionPlan)) } : {}),
    ...(o.distributorTlsCa !== undefined
      ? {
          distributorTls: {
            ca: path.resolve(check("distributorTlsCa", o.distributorTlsCa)),
            ...(o.distributorTlsCert ? { cert: path.resolve(o.distributorTlsCert) } : {}),
            ...(o.distributorTlsKey ? { key: path.resolve(o.distributorTlsKey) } : {}),
          },
        }
      : {}),
    ...(o.operatorTokenFile !== undefined ? { operatorTokenFile: path.resolve(check("operatorTokenFile", o.operatorTokenFile)) } : {}),
    ...(allowInsecureBind ? { allowInsecureBind } : {}),
  };
}


export interface RunningHubServer {
  readonly hub: Hub;
  readonly server: Server;
  /** `http://HOST:PORT` actually bound. */
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
  /** Plain-text alternative to `logger`: one message per line (request lines: `METHOD /path STATUS 1.2ms`). */
  log?: (line: string) => void;
  /** Also collect process metrics (CPU, memory, event loop) in the node's registry (default false; the bin sets it). */
  processMetrics?: boolean;
  /** Called after a stop requested over HTTP (mgmt/v1/stop) completed; e.g. process.exit(0). */
  onStopped?: () => void;
}

/** Open the FileStore and the hub under the state dir and listen. */
export async function startHubServer(config: HubServerConfig, options: StartHubServerOptions = {}): Promise<RunningHubServer> {
  const logger =
    options.logger ?? (options.log ? lineLogger(options.log, { kind: "hub", name: config.name }) : createNodeLogger({ kind: "hub", name: config.name }));
  const log = (line: string) => logger.info(line);
  const operatorToken = await operatorTokenOf(config, (m) => new CliUsageError(m));
  const insecure = !isLoopbackHost(config.host);
  if (insecure && config.allowInsecureBind !== true) {
    throw new CliUsageError(`--host ${config.host} is not a loopback address: give --allow-insecure-bind to serve plain HTTP on it`);
  }
  const plan = config.distributionPlan ? await readDistributionPlan(config.distributionPlan) : undefined;
  const distributorTls = config.distributorTls
    ? {
        tlsCa: await readPem(config.distributorTls.ca, "--distributor-tls-ca"),
        ...(config.distributorTls.cert ? { tlsCert: await readPem(config.distributorTls.cert, "--distributor-tls-cert") } : {}),
        ...(config.distributorTls.key ? { tlsKey: await readPem(config.distributorTls.key, "--distributor-tls-key") } : {}),
      }
    : {};
  await fs.mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const store = await FileStore.open(path.join(config.stateDir, "psrd"), { auditLog: config.psrdAuditLog });
  let hub: Hub;
  try {
    hub = await Hub.open({
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
      log,
    });
  } catch (err) {
    await store.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  let distribution: RunningDistribution | undefined;
  // eslint-disable-next-line prefer-const
  let server: Server;
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
  const faults = installTestFaults(hub, log); // test-only, off unless DSKE_TEST_FAULTS is set
  if (faults) app.use(faults);
  const router = createHubRouter({
    hub,
    metrics,
    logger,
    operatorToken,
    insecure,
    onStop: async () => {
      log(`hub ${config.name}: stop requested`);
      await stop();
      options.onStopped?.();
    },
    onError: (err) => logger.error({ err }, `hub ${config.name}: unexpected error: ${err instanceof Error ? err.message : String(err)}`),
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
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err }, `hub ${config.name}: unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    if (!res.headersSent) res.status(500).json({ message: "internal error in the hub" });
    else res.end();
  });

  server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host);
    s.once("listening", () => resolve(s));
    s.once("error", reject);
  }).catch(async (err: unknown) => {
    await hub.close();
    await store.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") throw new CliUsageError(`--port ${config.port} is already in use on ${config.host}: choose another port or stop the process using it`);
    throw err;
  });
  server.keepAliveTimeout = 65_000;
  if (plan) {
    distribution = startDistribution({ hub, plan, operatorToken, ...distributorTls, log });
    log(`hub ${config.name}: local distributor serving ${plan.clients.filter((c) => hub.accepts(c.name)).length} client(s)`);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  if (insecure) {
    logger.warn(
      `hub ${config.name}: INSECURE: plain HTTP on non-loopback ${config.host} (--allow-insecure-bind): the operator token and PSRD cross the network in clear`,
    );
  }
  if (operatorToken === undefined) logger.warn(`hub ${config.name}: no --operator-token-file: management (status, stop, metrics) is disabled`);
  return { hub, server, url, stop, metrics, logger };
}

/** The bin: parse, start, print `listening on ...`, stop gracefully on SIGTERM/SIGINT or mgmt stop. */
export async function runHubCli(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
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
  let running: RunningHubServer;
  try {
    running = await startHubServer(config, { onStopped: () => process.exit(0), processMetrics: true });
  } catch (err) {
    process.stderr.write(`dske-hub ${config.name}: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`listening on ${running.url}\n`);
  const onSignal = (signal: string) => {
    running.logger.info(`hub ${config.name}: ${signal}, stopping`);
    running
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        process.stderr.write(`hub ${config.name}: error while stopping: ${String(err)}\n`);
        process.exit(1);
      });
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
}
