/**
 * The standalone client's command line: commander for the options, zod for their values, then
 * the files they name (KME directory, TLS material) read and checked. Every failure is a
 * `ClientUsageError` naming the option and the fix.
 *
 * `ClientServerConfig` is flat on purpose: one field per command-line option. `startClientServer`
 * (standalone.ts) turns it into the grouped `ClientOptions` (client-options.ts).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { z } from "zod";
import { NodeNameSchema, SaeIdSchema } from "@dske/protocol";
import {
  LOG_OPTION_SPECS,
  plainOptionDescription,
  TlsFileError,
  isLoopbackHost,
  logConfigOf,
  readCaFile,
  readServerTlsFiles,
  type LogConfig,
} from "@dske/server";
import type { AuthSchemeName } from "@dske/auth";
import { KEY_SOURCES, type KeySource } from "../key-source.js";
import { plainRemoteHubUrls } from "../hub-tls.js";
import { hubNameOfUrl } from "../reference-hub.js";
import { splitHubReplicas } from "../hub-link.js";
import { usageIssueText } from "./usage-issues.js";
import { parseClientStorage, STORAGE_URL_ENV, type ClientStorageConfig } from "../storage/client-storage.js";

/** Mutual TLS for the client's port (ETSI + management): PEM files and their contents. */
export interface ClientTlsConfig {
  certFile: string;
  keyFile: string;
  caFile: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export interface ClientServerConfig {
  name: string;
  port: number;
  host: string;
  hubs: string[];
  encryptors: string[];
  startRequestPsrdThreshold: number;
  stopRequestPsrdThreshold: number;
  getPsrdBlockSize: number;
  minNrShares: number;
  /** `--hub-positions 0,2,3`: topology position of each --hubs URL (a client on a subset of hubs; ClientOptions.hubPositions). */
  hubPositions?: number[];
  /** `--gather-min-nr-shares k`: shares gathered for a received key, when a peer's min_nr_shares is larger (ClientOptions.gatherMinNrShares). */
  gatherMinNrShares?: number;
  stateDir: string;
  kmeDirectory?: Record<string, string>;
  /** HTTPS with mutual TLS (SAE identity = client certificate CN); absent = plain HTTP (insecure). */
  tls?: ClientTlsConfig;
  /** Where keys come from (`--key-source`, default random; see key-source.ts). */
  keySource?: KeySource;
  /** Allowed hub auth schemes (`--auth-schemes`): the first is proposed; without hmac-sha256 there is no fallback. */
  authSchemes?: AuthSchemeName[];
  /** Key stock look-ahead (`--key-stock-ahead-ms`, 0 = off) and key lifetime (`--key-stock-ttl-ms`); see key-stock.ts. */
  keyStockAheadMs?: number;
  /** Least demand that gets a key stock, keys per second (`--key-stock-min-rate`, default 2). */
  keyStockMinRate?: number;
  keyStockTtlMs?: number;
  /** PSRD delivery (`--psrd-delivery`): bundle (default, installed by the hubs' local distributors) or network. */
  psrdDelivery?: "bundle" | "network";
  /** Usable bytes per pool asked for in each hub's first bundle (`--initial-psrd-bytes`). */
  initialPsrdBytes?: number;
  /** How long a request short of PSRD waits for a bundle (`--psrd-wait-ms`). */
  psrdWaitMs?: number;
  /** `--operator-token-file`: the operator token is read from it at start (see @dske/server operator.ts). */
  operatorTokenFile?: string;
  /** The operator token itself (library use; takes precedence over operatorTokenFile). */
  operatorToken?: string;
  /**
   * `--allow-insecure-bind`: plain HTTP on a non-loopback `host`, and plain `http://` hub URLs whose
   * host is not loopback (logged as a warning, status shows `insecure: true`).
   */
  allowInsecureBind?: boolean;
  /** `--hub-ca FILE`: the CA that the server certificates of `https://` hubs must chain to (client option hubTls). */
  hubCa?: { file: string; ca: Buffer };
  /** `--reference-saes sam,sunny`: SAE IDs hosted by reference-implementation KMEs (their keys use the reference share format). */
  referenceSaes?: string[];
  /** `--allow-anonymous-sae`: plain-mode ETSI calls without Authorization come from the one SAE (client option etsi.anonymousSingleSae). */
  anonymousSingleSae?: boolean;
  /** `--log-file` / `--log-max-size` / `--log-max-files` / `--log-level` (@dske/server log-options.ts; used by runClientCli). */
  log?: LogConfig;
  /** `--reference-hubs hank,helen`: hubs of the reference implementation, by name (client option referenceHubs; reference-hub.ts). */
  referenceHubs?: string[];
  /** `--storage` (file, the default, or postgres: replicas of this client share one database; storage/client-storage.ts). */
  storage?: ClientStorageConfig;
}

/** Bad command line: the message names the option and the fix. */
export class ClientUsageError extends Error {
  override readonly name = "ClientUsageError";
}

/** An integer option from `min` to `max` (its message names the range; the value given is added by usageIssueText). */
const int = (min: number, max: number) => {
  const error = `expected an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).pipe(z.int({ error }).min(min, { error }).max(max, { error }));
};

const isHubUrl = (s: string) => {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
};

/** One hub: its URL, or its replicas' URLs joined with `|` (same path: the same hub name). */
const HubUrlSchema = z
  .string()
  .refine(
    (s) => splitHubReplicas(s).every(isHubUrl),
    "must be an http(s) URL like http://127.0.0.1:8100/hub/hank (replicas of one hub: URL|URL|...)",
  )
  .refine(
    (s) => new Set(splitHubReplicas(s).map((u) => (isHubUrl(u) ? new URL(u).pathname : u))).size === 1,
    "the replicas of one hub (URL|URL|...) must have the same path /hub/NAME",
  );

const ConfigSchema = z
  .object({
    name: NodeNameSchema,
    port: int(0, 65535),
    host: z.string().min(1),
    hubs: z.array(HubUrlSchema).min(1, "give at least one hub URL (--hubs URL...)"),
    encryptors: z.array(SaeIdSchema),
    startRequestPsrdThreshold: int(0, 1 << 30),
    stopRequestPsrdThreshold: int(0, 1 << 30),
    getPsrdBlockSize: int(1, 16 * 1024 * 1024),
    minNrShares: int(1, 255),
    hubPositions: z.array(int(0, 254)).optional(),
    gatherMinNrShares: int(1, 255).optional(),
    stateDir: z.string().min(1),
    kmeDirectory: z.string().min(1).optional(),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    tlsCa: z.string().min(1).optional(),
    hubCa: z.string().min(1).optional(),
    keySource: z.enum(KEY_SOURCES),
    authSchemes: z.array(z.enum(["gf128", "hmac-sha256"])).min(1),
    keyStockAheadMs: int(0, 60_000),
    keyStockMinRate: int(1, 100_000),
    keyStockTtlMs: int(1000, 3_600_000),
    psrdDelivery: z.enum(["bundle", "network"]),
    initialPsrdBytes: int(1024, 1 << 30),
    psrdWaitMs: int(100, 600_000),
    operatorTokenFile: z.string().min(1).optional(),
    allowInsecureBind: z.boolean(),
    referenceSaes: z.array(SaeIdSchema),
    referenceHubs: z.array(NodeNameSchema),
    allowAnonymousSae: z.boolean(),
  })
  .refine(
    (c) => [c.tlsCert, c.tlsKey, c.tlsCa].every((v) => v === undefined) || [c.tlsCert, c.tlsKey, c.tlsCa].every((v) => v !== undefined),
    {
      error: "give all three of --tls-cert, --tls-key and --tls-ca (or none for plain HTTP)",
      path: ["tlsCert"],
    },
  )
  .refine((c) => c.stopRequestPsrdThreshold >= c.startRequestPsrdThreshold, {
    error: "--stop-request-psrd-threshold must be >= --start-request-psrd-threshold",
    path: ["stopRequestPsrdThreshold"],
  })
  .refine((c) => !c.referenceSaes.some((sae) => c.encryptors.includes(sae)), {
    error: "names an encryptor of this client: list only SAEs hosted by reference-implementation KMEs",
    path: ["referenceSaes"],
  })
  .superRefine((c, ctx) => {
    const names = c.hubs.map(hubNameOfUrl);
    const unknown = c.referenceHubs.filter((h) => !names.includes(h));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["referenceHubs"],
        message: `${unknown.join(", ")}: not the name of a hub in --hubs (${names.join(", ")}); give the names the hub URLs end with`,
      });
    }
    if (c.referenceHubs.length > 0 && !c.authSchemes.includes("hmac-sha256")) {
      ctx.addIssue({
        code: "custom",
        path: ["referenceHubs"],
        message:
          `reference hubs sign with hmac-sha256 only, but --auth-schemes is ${c.authSchemes.join(",")}; ` +
          "allow it too (e.g. --auth-schemes gf128,hmac-sha256)",
      });
    }
  })
  .refine(
    (c) => c.hubPositions === undefined || (c.hubPositions.length === c.hubs.length && new Set(c.hubPositions).size === c.hubs.length),
    {
      error: "give one distinct position per --hubs URL (its index in the topology's hub list, from 0)",
      path: ["hubPositions"],
    },
  )
  .refine((c) => (c.gatherMinNrShares ?? 0) <= c.hubs.length, {
    error: "--gather-min-nr-shares must not exceed the number of --hubs",
    path: ["gatherMinNrShares"],
  })
  .refine((c) => c.minNrShares <= c.hubs.length, {
    error: "--min-nr-shares must not exceed the number of --hubs",
    path: ["minNrShares"],
  })
  .refine((c) => !c.allowAnonymousSae || (c.encryptors.length === 1 && c.tlsCert === undefined), {
    error:
      "needs exactly one --encryptors SAE and plain HTTP (with TLS the client certificate names the SAE); " +
      "drop the option, or give the one SAE",
    path: ["allowAnonymousSae"],
  })
  .refine((c) => c.tlsCert !== undefined || c.allowInsecureBind || isLoopbackHost(c.host), {
    error:
      "not a loopback address: without TLS the client serves plain HTTP, so SAE identities, keys and its management would cross " +
      "the network in clear; bind to 127.0.0.1 (the default), serve mutual TLS (--tls-cert/--tls-key/--tls-ca), " +
      "or add --allow-insecure-bind if the network is trusted",
    path: ["host"],
  })
  .superRefine((c, ctx) => {
    if (c.allowInsecureBind) return;
    for (const url of plainRemoteHubUrls(c.hubs)) {
      ctx.addIssue({
        code: "custom",
        path: ["hubs"],
        message: plainRemoteHubMessage(url),
      });
    }
  });

/** Why a plain `http://` hub URL off loopback is refused, and the fixes. */
export function plainRemoteHubMessage(url: string): string {
  return (
    `${url}: plain HTTP to a hub that is not on loopback: registration, shares and the enrollment secret would cross the network in clear; ` +
    "give its https:// URL (and --hub-ca CA_FILE, the CA of its certificate), or add --allow-insecure-bind if the network is trusted"
  );
}

const KmeDirectorySchema = z.record(z.string(), z.string());

/** Parse argv (without node and script) into a validated config. Throws ClientUsageError. */
export async function parseClientArgs(argv: readonly string[]): Promise<ClientServerConfig> {
  const program = new Command("dske-client")
    .configureHelp({ optionDescription: plainOptionDescription })
    .description("DSKE client (KME) with the ETSI GS QKD 014 API")
    .argument("<name>", "client name")
    .option("--port <port>", "port number", "8105")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--hubs <url...>", "base URLs of the hubs (e.g. http://127.0.0.1:8100/hub/hank)", [])
    .option("--encryptors [sae...]", "names (SAE IDs) of the encryptors attached to this client (may be none)", [])
    .option("--start-request-psrd-threshold <n>", "start requesting PSRD below this many bytes", "500")
    .option("--start-request-psrd_threshold <n>", "(reference spelling of the option above)")
    .option("--stop-request-psrd-threshold <n>", "stop requesting PSRD above this many bytes", "2000")
    .option("--get-psrd-block-size <n>", "PSRD block size in bytes", "1000")
    .option("--min-nr-shares <k>", "shares needed to reconstruct a key", "3")
    .option("--hub-positions <list>", "a client on a subset of hubs: each --hubs URL's index in the topology's hub list, comma separated")
    .option("--gather-min-nr-shares <k>", "shares to gather for a received key when a peer client's min_nr_shares is larger than ours")
    .option("--state-dir <dir>", "durable state directory (default ./.dske/state/NAME)")
    .option("--kme-directory <file>", "JSON file {sae: client} naming the KME of every SAE")
    .option("--tls-cert <file>", "PEM server certificate: serve HTTPS with mutual TLS (needs --tls-key and --tls-ca)")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option("--tls-ca <file>", "PEM CA certificate(s) that SAE and operator client certificates must chain to")
    .option(
      "--hub-ca <file>",
      "PEM CA certificate(s) that the server certificates of https:// hubs must chain to (default: the system CAs); " +
        "a hub's certificate must name its URL's host",
    )
    .option("--key-source <source>", `where keys come from: ${KEY_SOURCES.join(" | ")} (psrd: PSRD used directly as shares)`, "random")
    .option(
      "--auth-schemes <list>",
      "hub auth schemes allowed, preferred first (without hmac-sha256: no fallback; add it only for reference hubs)",
      "gf128",
    )
    .option("--key-stock-ahead-ms <ms>", "key stock: establish keys for a busy SAE pair this far ahead of its demand (0 = off)", "2000")
    .option(
      "--psrd-delivery <mode>",
      "bundle (PSRD installed out of band by the hubs' local distributors) or network (GET psrd with the enrollment secret)",
      "bundle",
    )
    .option("--initial-psrd-bytes <n>", "usable bytes per pool asked for in each hub's first PSRD bundle", "65536")
    .option("--psrd-wait-ms <ms>", "how long a request short of PSRD waits for a bundle before it fails", "10000")
    .option("--key-stock-min-rate <keys/s>", "key stock: least demand of an SAE pair, in keys per second, that gets a stock", "2")
    .option(
      "--key-stock-ttl-ms <ms>",
      "key stock: drop a stocked key not handed out within this time (keep below the hubs' share timeout)",
      "20000",
    )
    .option("--operator-token-file <file>", "file holding the operator token that management routes and /metrics require (mode 0600)")
    .option(
      "--allow-insecure-bind",
      "allow a non-loopback --host over plain HTTP (without TLS), and plain http:// hub URLs whose host is not loopback",
    )
    .option(
      "--reference-saes <list>",
      "SAE IDs hosted by reference-implementation KMEs, comma separated: their keys use the reference's share format (4-byte digest)",
      "",
    )
    .option(
      "--reference-hubs <list>",
      "hub names (the last part of their --hubs URL), comma separated, of reference-implementation hubs: registration and PSRD " +
        "(GET psrd) unauthenticated, hmac-sha256 (needs it in --auth-schemes), the reference's v1 share messages",
      "",
    )
    .option("--allow-anonymous-sae", "plain HTTP, one SAE: take ETSI calls without Authorization as from that SAE (as the reference)")
    .option(
      "--storage <kind>",
      "file (default: PSRD, node state and key journal under --state-dir) or postgres (replicas of this client share one database)",
    )
    .option(
      "--storage-url <url>",
      `PostgreSQL URL for --storage postgres (better: the environment variable ${STORAGE_URL_ENV}, which keeps a password off the command line)`,
    )
    .option(
      "--storage-key-file <file>",
      "key file sealing the client's secrets in PostgreSQL (default <state-dir>/storage.key; every replica needs the same one)",
    )
    .option(
      "--psrd-key-file <file>",
      "key file of the PSRD store in PostgreSQL (default <state-dir>/psrd.key; every replica needs the same one)",
    )
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  for (const [flags, description, defaultValue] of LOG_OPTION_SPECS) program.option(flags, description, defaultValue);
  try {
    program.parse([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") throw err;
      throw new ClientUsageError(err.message.replace(/^error: /, ""));
    }
    throw err;
  }
  const o = program.opts<Record<string, unknown>>();
  const name = program.args[0];
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const log = logConfigOf(
    { logFile: str(o.logFile), logMaxSize: str(o.logMaxSize), logMaxFiles: str(o.logMaxFiles), logLevel: str(o.logLevel) },
    (m) => new ClientUsageError(m),
  );
  const raw = {
    name,
    port: o.port,
    host: o.host,
    hubs: o.hubs,
    encryptors: o.encryptors === true ? [] : o.encryptors,
    startRequestPsrdThreshold: o.startRequestPsrd_threshold ?? o.startRequestPsrdThreshold,
    stopRequestPsrdThreshold: o.stopRequestPsrdThreshold,
    getPsrdBlockSize: o.getPsrdBlockSize,
    minNrShares: o.minNrShares,
    hubPositions: o.hubPositions === undefined ? undefined : commaList(o.hubPositions),
    gatherMinNrShares: o.gatherMinNrShares,
    stateDir: o.stateDir ?? path.join(".dske", "state", name),
    kmeDirectory: o.kmeDirectory,
    tlsCert: o.tlsCert,
    tlsKey: o.tlsKey,
    tlsCa: o.tlsCa,
    hubCa: o.hubCa,
    keySource: o.keySource,
    keyStockAheadMs: o.keyStockAheadMs,
    keyStockMinRate: o.keyStockMinRate,
    keyStockTtlMs: o.keyStockTtlMs,
    psrdDelivery: o.psrdDelivery,
    initialPsrdBytes: o.initialPsrdBytes,
    psrdWaitMs: o.psrdWaitMs,
    operatorTokenFile: o.operatorTokenFile,
    allowInsecureBind: o.allowInsecureBind === true,
    allowAnonymousSae: o.allowAnonymousSae === true,
    authSchemes: commaList(o.authSchemes),
    referenceSaes: commaList(o.referenceSaes),
    referenceHubs: commaList(o.referenceHubs),
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? "");
      return `${optionName(key)}: ${usageIssueText(i, key === "name" ? name : o[key])}`;
    });
    throw new ClientUsageError(`invalid arguments:\n  ${lines.join("\n  ")}`);
  }
  const { tlsCert, tlsKey, tlsCa, hubCa, operatorTokenFile, allowInsecureBind, referenceSaes, referenceHubs, allowAnonymousSae, ...c } =
    parsed.data;
  const storage = parseClientStorage(
    { storage: str(o.storage), storageUrl: str(o.storageUrl), storageKeyFile: str(o.storageKeyFile), psrdKeyFile: str(o.psrdKeyFile) },
    path.resolve(c.stateDir),
    process.env,
  );
  if (typeof storage === "string") throw new ClientUsageError(storage);
  const tls = tlsCert && tlsKey && tlsCa ? await loadTls(tlsCert, tlsKey, tlsCa) : undefined;
  const hubCaPem = hubCa !== undefined ? await loadHubCa(hubCa) : undefined;
  let kmeDirectory: Record<string, string> | undefined;
  if (c.kmeDirectory) {
    let text: string;
    try {
      text = await fs.readFile(c.kmeDirectory, "utf8");
    } catch (err) {
      throw new ClientUsageError(`--kme-directory ${c.kmeDirectory}: cannot read (${(err as Error).message})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ClientUsageError(`--kme-directory ${c.kmeDirectory}: not JSON (${(err as Error).message})`);
    }
    const d = KmeDirectorySchema.safeParse(json);
    if (!d.success) throw new ClientUsageError(`--kme-directory ${c.kmeDirectory}: expected a JSON object {"sae": "client", ...}`);
    kmeDirectory = d.data;
  }
  return {
    ...c,
    kmeDirectory,
    ...(tls ? { tls } : {}),
    ...(hubCa !== undefined && hubCaPem !== undefined ? { hubCa: { file: path.resolve(hubCa), ca: hubCaPem } } : {}),
    ...(operatorTokenFile !== undefined ? { operatorTokenFile: path.resolve(operatorTokenFile) } : {}),
    ...(allowInsecureBind ? { allowInsecureBind } : {}),
    ...(referenceSaes.length > 0 ? { referenceSaes: [...new Set(referenceSaes)] } : {}),
    ...(referenceHubs.length > 0 ? { referenceHubs: [...new Set(referenceHubs)] } : {}),
    ...(allowAnonymousSae ? { anonymousSingleSae: true } : {}),
    ...(storage.kind !== "file" ? { storage } : {}),
    log,
  };
}

/** `a,b, c` → ["a", "b", "c"] (empty entries dropped). */
function commaList(v: unknown): string[] {
  return String(v)
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** Read and check the TLS files: each must exist and parse, and the key must match the certificate. */
async function loadTls(certFile: string, keyFile: string, caFile: string): Promise<ClientTlsConfig> {
  try {
    const files = await readServerTlsFiles({
      cert: { option: "--tls-cert", file: certFile },
      key: { option: "--tls-key", file: keyFile },
      ca: { option: "--tls-ca", file: caFile },
    });
    return { certFile, keyFile, caFile, cert: files.cert, key: files.key, ca: files.ca ?? Buffer.alloc(0) };
  } catch (err) {
    if (err instanceof TlsFileError) throw new ClientUsageError(err.message);
    throw err;
  }
}

/** `--hub-ca`: a readable PEM CA certificate. */
async function loadHubCa(file: string): Promise<Buffer> {
  try {
    return await readCaFile({ option: "--hub-ca", file });
  } catch (err) {
    if (err instanceof TlsFileError) throw new ClientUsageError(err.message);
    throw err;
  }
}

function optionName(key: string): string {
  if (key === "name") return "NAME";
  return "--" + key.replace(/[A-Z]/g, (m) => "-" + m.toLowerCase());
}
