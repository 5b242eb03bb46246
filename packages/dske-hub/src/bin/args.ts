/**
 * The standalone hub's command line: `dske-hub NAME --port P [...]` parsed with commander and
 * checked with zod into a `HubServerConfig`; every error is a `CliUsageError` that names the
 * option and the fix. Also the readers of the files options point to (distribution plan, PEMs).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { z } from "zod";
import type { AuthSchemeName } from "@dske/auth";
import { AUTH_SCHEMES, NodeNameSchema } from "@dske/protocol";
import {
  LOG_OPTION_SPECS,
  plainOptionDescription,
  TlsFileError,
  isLoopbackHost,
  logConfigOf,
  readServerTlsFiles,
  type LogConfig,
  type ServerTlsFiles,
} from "@dske/server";
import { DistributionPlanSchema, type DistributionPlan } from "../distribution.js";
import { parseStorage, STORAGE_URL_ENV, type HubStorageConfig } from "../storage/hub-storage.js";
import { DEFAULT_REFERENCE_SOURCES, IpAddressSchema, ReferenceClients } from "../reference-clients.js";

export async function readDistributionPlan(file: string): Promise<DistributionPlan> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, "utf8")) as unknown;
  } catch (err) {
    throw new CliUsageError(`--distribution-plan ${file}: cannot read it as JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = DistributionPlanSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CliUsageError(
      `--distribution-plan ${file}: ${i.path.join(".") || "(root)"}: ${i.message}; expected {"clients": [{"name", "url", "inbox"}]}`,
    );
  }
  return r.data;
}

export async function readPem(file: string, option: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new CliUsageError(`${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** `--tls-cert` / `--tls-key` (/ `--tls-ca`) read and checked: every file readable, the key that of the certificate, the CA a CA. */
export async function readHubTls(tls: NonNullable<HubServerConfig["tls"]>): Promise<ServerTlsFiles> {
  try {
    return await readServerTlsFiles({
      cert: { option: "--tls-cert", file: tls.cert },
      key: { option: "--tls-key", file: tls.key },
      ...(tls.ca !== undefined ? { ca: { option: "--tls-ca", file: tls.ca } } : {}),
    });
  } catch (err) {
    if (err instanceof TlsFileError) throw new CliUsageError(err.message);
    throw err;
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
  /** `--operator-token-file`: the operator token is read from it at start (@dske/server's operatorTokenOf). */
  operatorTokenFile?: string;
  /** The operator token itself (library use; takes precedence over operatorTokenFile). */
  operatorToken?: string;
  /**
   * `--tls-cert` / `--tls-key`: serve HTTPS (TLS 1.2 or later) with this server certificate and key;
   * `--tls-ca`: also verify client certificates against this CA, so that management routes accept
   * the operator certificate besides the operator token. Absent: plain HTTP.
   */
  tls?: { cert: string; key: string; ca?: string };
  /** `--allow-insecure-bind`: plain HTTP on a non-loopback `host` (logged as a warning, status shows `insecure: true`). */
  allowInsecureBind?: boolean;
  /** `--reference-clients` / `--reference-clients-from`: reference-client mode (HubOptions.referenceClients). */
  referenceClients?: { names: string[]; from: string[] };
  /** `--storage` (file, the default, or postgres with its URL and key file; storage/hub-storage.ts). */
  storage?: HubStorageConfig;
  /** `--log-file` / `--log-max-size` / `--log-max-files` / `--log-level` (@dske/server log-options.ts; used by runHubCli). */
  log?: LogConfig;
}

/** Bad command line: the message names the option and the fix. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
}

const optionSchemas = {
  name: NodeNameSchema,
  port: z.coerce.number().pipe(z.int().min(0).max(65535)),
  host: z.string().min(1),
  shareTimeoutSecs: z.coerce.number().pipe(
    z
      .number()
      .positive()
      .max(365 * 24 * 3600),
  ),
  authSchemes: z.array(z.enum(AUTH_SCHEMES)).min(1),
  stateDir: z.string().min(1),
  psrdAuditLog: z.string().min(1),
  maxPsrdBlockBytes: z.coerce.number().pipe(
    z
      .int()
      .min(1)
      .max(16 * 1024 * 1024),
  ),
  acceptClients: z.array(NodeNameSchema).min(1),
  psrdDelivery: z.enum(["bundle", "network"]),
  maxClients: z.coerce.number().pipe(z.int().min(1)),
  maxPoolBytes: z.coerce.number().pipe(z.int().min(1)),
  maxPoolBlocks: z.coerce.number().pipe(z.int().min(1)),
  distributionPlan: z.string().min(1),
  distributorTlsCa: z.string().min(1),
  operatorTokenFile: z.string().min(1),
  referenceClients: z.array(NodeNameSchema).min(1),
  referenceClientsFrom: z.array(IpAddressSchema).min(1),
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
  referenceClients: {
    option: "--reference-clients",
    hint: "give a comma-separated list of the client names to serve as reference (dske-python) clients (e.g. --reference-clients conny,curtis)",
  },
  referenceClientsFrom: {
    option: "--reference-clients-from",
    hint: "give a comma-separated list of IPv4 / IPv6 addresses (no host names, no subnets; e.g. --reference-clients-from 127.0.0.1,::1)",
  },
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
    .configureHelp({ optionDescription: plainOptionDescription })
    .description("DSKE security hub")
    .argument("<name>", "hub name, e.g. hank (paths are /hub/NAME/...)")
    .requiredOption("-p, --port <port>", "TCP port to listen on (0 = any free port)")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--share-timeout-secs <secs>", "delete unfetched shares after this many seconds", "60")
    .option("--state-dir <dir>", "durable state directory (default ./.dske/state/NAME)")
    .option("--auth-schemes <list>", "accepted auth schemes, in preference order (add hmac-sha256 only for reference peers)", "gf128")
    .option("--psrd-audit-log <file>", "PSRD audit log (default <state-dir>/psrd-audit.jsonl)")
    .option("--max-psrd-block-bytes <n>", "largest PSRD block a client may request", String(4 * 1024 * 1024))
    .option(
      "--accept-clients <list>",
      "acceptance policy: the only client names this hub registers (default: every client the operator provisions)",
    )
    .option(
      "--psrd-delivery <mode>",
      "bundle (PSRD only in bundles carried out of band) or network (also GET psrd, authenticated)",
      "bundle",
    )
    .option("--max-clients <n>", "most clients registered at once", "1000")
    .option("--max-pool-bytes <n>", "most available bytes in one pool of one client", String(1024 * 1024 * 1024))
    .option("--max-pool-blocks <n>", "most live blocks in one pool of one client", "4096")
    .option(
      "--distribution-plan <file>",
      "run this hub's local distributor for the clients of this JSON plan ({clients: [{name, url, inbox}]})",
    )
    .option("--distributor-tls-ca <file>", "PEM CA that clients served over HTTPS chain to (local distributor)")
    .option("--distributor-tls-cert <file>", "PEM client certificate the local distributor presents to HTTPS clients (the operator's)")
    .option("--distributor-tls-key <file>", "PEM key of --distributor-tls-cert")
    .option(
      "--operator-token-file <file>",
      "file holding the operator token that management routes and /metrics require (mode 0600); without it management is disabled",
    )
    .option("--tls-cert <file>", "PEM server certificate: serve HTTPS (TLS 1.2+; needs --tls-key); its SANs must name the host clients use")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option(
      "--tls-ca <file>",
      "PEM CA that operator client certificates chain to: management routes then also accept the operator certificate (needs --tls-cert)",
    )
    .option(
      "--allow-insecure-bind",
      "allow a non-loopback --host over plain HTTP, without --tls-cert (management and PSRD then cross the network in clear)",
    )
    .option(
      "--reference-clients <list>",
      "serve these clients as reference (dske-python) clients: registration and GET psrd without proof of identity (needs hmac-sha256 in --auth-schemes)",
    )
    .option(
      "--reference-clients-from <list>",
      `source addresses the reference clients' unauthenticated calls must come from (default ${DEFAULT_REFERENCE_SOURCES.join(",")})`,
    )
    .option(
      "--storage <kind>",
      "file (default: journal and PSRD files under --state-dir) or postgres (replicas of this hub share one database)",
    )
    .option(
      "--storage-url <url>",
      `PostgreSQL URL for --storage postgres (better: the environment variable ${STORAGE_URL_ENV}, which keeps a password off the command line)`,
    )
    .option(
      "--storage-key-file <file>",
      "key file sealing the hub's secrets in PostgreSQL (default <state-dir>/storage.key; every replica needs the same one)",
    )
    .option(
      "--psrd-key-file <file>",
      "key file of the PSRD store in PostgreSQL (default <state-dir>/psrd.key; every replica needs the same one)",
    )
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .allowExcessArguments(false);
  for (const [flags, description, defaultValue] of LOG_OPTION_SPECS) program.option(flags, description, defaultValue);
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
    tlsCert?: string;
    tlsKey?: string;
    tlsCa?: string;
    allowInsecureBind?: boolean;
    referenceClients?: string;
    referenceClientsFrom?: string;
    storage?: string;
    storageUrl?: string;
    storageKeyFile?: string;
    psrdKeyFile?: string;
    logFile?: string;
    logMaxSize?: string;
    logMaxFiles?: string;
    logLevel?: string;
  }>();
  const name = check("name", program.args[0]);
  const stateDir = check("stateDir", o.stateDir ?? path.join(".dske", "state", name));
  const schemes = list(o.authSchemes);
  const host = check("host", o.host);
  const allowInsecureBind = o.allowInsecureBind === true;
  const tls = tlsOf(o.tlsCert, o.tlsKey, o.tlsCa);
  if (!isLoopbackHost(host) && !allowInsecureBind && tls === undefined) {
    throw new CliUsageError(
      `--host ${host} is not a loopback address: without --tls-cert the hub serves plain HTTP, so its management and PSRD would cross the network in clear; ` +
        "serve HTTPS (--tls-cert FILE --tls-key FILE, e.g. from dske-cli certs), bind to 127.0.0.1 (the default), " +
        "or add --allow-insecure-bind if the network is trusted",
    );
  }
  const authSchemes = check("authSchemes", schemes);
  const acceptClients = o.acceptClients !== undefined ? check("acceptClients", list(o.acceptClients)) : undefined;
  const referenceClients = referenceClientsOf(o.referenceClients, o.referenceClientsFrom, authSchemes, acceptClients);
  const storage = parseStorage(o, path.resolve(stateDir), process.env);
  if (typeof storage === "string") throw new CliUsageError(storage);
  return {
    name,
    port: check("port", o.port),
    host,
    shareTimeoutSecs: check("shareTimeoutSecs", o.shareTimeoutSecs),
    stateDir: path.resolve(stateDir),
    authSchemes,
    psrdAuditLog: path.resolve(check("psrdAuditLog", o.psrdAuditLog ?? path.join(stateDir, "psrd-audit.jsonl"))),
    maxPsrdBlockBytes: check("maxPsrdBlockBytes", o.maxPsrdBlockBytes),
    ...(acceptClients !== undefined ? { acceptClients } : {}),
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
    ...(tls ? { tls } : {}),
    ...(allowInsecureBind ? { allowInsecureBind } : {}),
    ...(referenceClients ? { referenceClients } : {}),
    ...(storage.kind !== "file" ? { storage } : {}),
    log: logConfigOf(o, (m) => new CliUsageError(m)),
  };
}

/** `--tls-cert` / `--tls-key` / `--tls-ca`: both of the first two or neither; the CA only with them. Paths resolved. */
function tlsOf(cert: string | undefined, key: string | undefined, ca: string | undefined): HubServerConfig["tls"] {
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) {
      throw new CliUsageError(
        "--tls-ca needs --tls-cert and --tls-key: operator client certificates are checked only over HTTPS; give the hub's server certificate and key too",
      );
    }
    return undefined;
  }
  if (cert === undefined || key === undefined) {
    const [given, missing] = cert === undefined ? ["--tls-key", "--tls-cert"] : ["--tls-cert", "--tls-key"];
    throw new CliUsageError(
      `${given} needs ${missing}: give both the hub's server certificate (--tls-cert FILE) and its private key (--tls-key FILE), or neither for plain HTTP`,
    );
  }
  for (const [option, file] of [
    ["--tls-cert", cert],
    ["--tls-key", key],
    ["--tls-ca", ca],
  ] as const) {
    if (file !== undefined && file.trim() === "") throw new CliUsageError(`invalid ${option} "": give the path of a PEM file`);
  }
  return { cert: path.resolve(cert), key: path.resolve(key), ...(ca !== undefined ? { ca: path.resolve(ca) } : {}) };
}

/** A comma-separated option value → its trimmed, non-empty items. */
function list(value: string): string[] {
  return value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** `--reference-clients` / `--reference-clients-from`, checked against the rest of the command line. */
function referenceClientsOf(
  names: string | undefined,
  from: string | undefined,
  authSchemes: readonly AuthSchemeName[],
  acceptClients: readonly string[] | undefined,
): { names: string[]; from: string[] } | undefined {
  if (names === undefined) {
    if (from !== undefined) throw new CliUsageError("--reference-clients-from needs --reference-clients (the clients it applies to)");
    return undefined;
  }
  const option = {
    names: check("referenceClients", list(names)),
    from: from === undefined ? [...DEFAULT_REFERENCE_SOURCES] : check("referenceClientsFrom", list(from)),
  };
  try {
    ReferenceClients.validate(option, authSchemes, acceptClients);
  } catch (err) {
    throw new CliUsageError(`--reference-clients ${option.names.join(",")}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return option;
}
