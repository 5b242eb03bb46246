/**
 * The topology file (`dske-config.yaml`): its zod schema, its defaults, and a loader whose every
 * error names the file, the place inside it (YAML path, line and column) and what is expected.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { isMap, isNode, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { checkHubSubsets, checkPlacement, placementFields, tlsByDefault } from "./config-placement";
import { checkReplicas, replicaFields } from "./node-replicas";
import { RESTART_DEFAULTS, restartSchema } from "./restart-policy";

/** Defaults of every optional attribute (the user guide's values, plus our additions). */
export const CONFIG_DEFAULTS = {
  base_port: 8100,
  start_request_psrd_threshold: 500,
  stop_request_psrd_threshold: 2000,
  get_psrd_block_size: 1000,
  min_nr_shares: 3,
  share_timeout_secs: 60,
  state_dir: ".dske",
  // gf128 only: hmac-sha256 (computational) only where a topology lists it for reference peers.
  auth_schemes: ["gf128"] as const,
  tls: false,
  insecure: false,
  etsi_anonymous_single_sae: false,
  key_source: "random",
  key_stock_ahead_ms: 2000,
  key_stock_ttl_ms: 20000,
  key_stock_min_rate: 2,
  psrd_delivery: "bundle",
  initial_psrd_bytes: 65536,
  psrd_wait_ms: 10000,
  max_clients: 1000,
  max_pool_bytes: 1024 * 1024 * 1024,
  max_pool_blocks: 4096,
  log_max_size: "10M",
  log_max_files: 5,
  restart: RESTART_DEFAULTS,
} as const;

/**
 * `processes:` (and `start --processes`): the file-store nodes of this host in one node host
 * process (`shared`, node-host.ts: a fraction of the memory and start-up time, but a crash takes
 * all of them down), or one process per node (`separate`, as the reference runs them). Absent:
 * `shared`, unless a restart policy is set (it restarts one node's process): then `separate`
 * (processModeOf).
 */
export const PROCESS_MODES = ["separate", "shared"] as const;
export type ProcessMode = (typeof PROCESS_MODES)[number];

/** The process mode `start` uses: `processes:` if set, else shared, or separate under a restart policy (`policy`, default the config's). */
export function processModeOf(
  config: { readonly processes?: ProcessMode; readonly restart: { readonly policy: string } },
  policy?: string,
): ProcessMode {
  return config.processes ?? ((policy ?? config.restart.policy) !== "no" ? "separate" : "shared");
}

/** Node log levels (`log_level`, the nodes' --log-level). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/** `log_max_size` / `start --log-max-size`: a positive integer and B, K, M or G. */
export const logMaxSizeSchema = z
  .string({ error: "expected a size like 10M (a positive integer and B, K, M or G)" })
  .regex(/^[1-9][0-9]{0,9}[BKMG]$/, { error: "expected a size like 10M (a positive integer and B, K, M or G)" });
/** `log_max_files` / `start --log-max-files`: rotated files kept per node. */
export const logMaxFilesSchema = intSchema(1, 1000, "a number of rotated log files");

export const AUTH_SCHEMES = ["gf128", "hmac-sha256"] as const;
export type AuthScheme = (typeof AUTH_SCHEMES)[number];

/** Where keys come from: crypto.randomBytes, or PSRD used directly as shares (@dske/client key-source.ts). */
export const KEY_SOURCES = ["random", "psrd"] as const;
export type KeySource = (typeof KEY_SOURCES)[number];

function authSchemesSchema() {
  return z
    .array(z.enum(AUTH_SCHEMES, { error: `expected one of ${AUTH_SCHEMES.join(", ")}` }), {
      error: `expected a list of authentication schemes (${AUTH_SCHEMES.join(", ")})`,
    })
    .min(1, { error: "expected at least one authentication scheme" });
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_FIX = "expected a non-empty string";

/** A node or encryptor name: used in URL paths and file names, so a conservative alphabet. */
const nameSchema = z
  .string({ error: NAME_FIX })
  .min(1, { error: NAME_FIX, abort: true })
  .max(64, { error: "expected at most 64 characters" })
  .regex(NAME_RE, {
    error: "expected letters, digits, '.', '_' or '-' only, starting with a letter or digit",
  });

function intSchema(min: number, max: number, what: string) {
  const fix = `expected ${what} (an integer from ${min} to ${max})`;
  return z.number({ error: fix }).int({ error: fix }).min(min, { error: fix }).max(max, { error: fix });
}

const encryptorSchema = z.strictObject({ name: nameSchema }, { error: "expected a mapping like `- name: sam`" });

/**
 * Who runs a node: `dske` (this project: dske-cli starts and stops it) or `reference` (the
 * reference implementation, run by its own manager at the node's usual port: dske-cli leaves it
 * alone, and tells our nodes about it).
 */
export const IMPLEMENTATIONS = ["dske", "reference"] as const;
export type Implementation = (typeof IMPLEMENTATIONS)[number];

/** The reference implementation splits a key into at most this many shares (one per hub). */
export const REFERENCE_MAX_HUBS = 16;

const implementationSchema = z
  .enum(IMPLEMENTATIONS, { error: `expected ${IMPLEMENTATIONS.join(" or ")} (who runs the node; default dske)` })
  .default("dske");

const hubSchema = z.strictObject(
  { name: nameSchema, implementation: implementationSchema, ...placementFields, ...replicaFields },
  { error: "expected a mapping like `- name: hank`" },
);

const clientSchema = z.strictObject(
  {
    name: nameSchema,
    implementation: implementationSchema,
    ...placementFields,
    // The draft's "clients use a subset of hubs": the hubs this client uses (default: all), and its own k.
    hubs: z
      .array(nameSchema, { error: "expected a list of hub names (`hubs: [hank, helen, hilary]`)" })
      .min(1, { error: "expected at least one hub name" })
      .optional(),
    min_nr_shares: intSchema(1, 255, "a share count").optional(),
    encryptors: z
      .array(encryptorSchema, { error: "expected a list of encryptors (`- name: sam`)" })
      .nullish()
      .transform((v) => v ?? []),
    // Reference compatibility (plain HTTP): ETSI calls without Authorization as from the client's one SAE.
    etsi_anonymous_single_sae: z.boolean({ error: "expected true or false" }).optional(),
    // Replicas of the client (KME) sharing its state in PostgreSQL (node-replicas.ts).
    ...replicaFields,
  },
  { error: "expected a mapping like `- name: carol`" },
);

/** The raw schema (what the YAML may contain), with defaults applied. */
export const configSchema = z
  .strictObject(
    {
      base_port: intSchema(1, 65535, "a TCP port").default(CONFIG_DEFAULTS.base_port),
      start_request_psrd_threshold: intSchema(0, 1 << 30, "a byte count").default(CONFIG_DEFAULTS.start_request_psrd_threshold),
      stop_request_psrd_threshold: intSchema(1, 1 << 30, "a byte count").default(CONFIG_DEFAULTS.stop_request_psrd_threshold),
      get_psrd_block_size: intSchema(64, 1 << 26, "a block size in bytes").default(CONFIG_DEFAULTS.get_psrd_block_size),
      min_nr_shares: intSchema(1, 255, "a share count").default(CONFIG_DEFAULTS.min_nr_shares),
      share_timeout_secs: z
        .number({ error: "expected a positive number of seconds" })
        .positive({ error: "expected a positive number of seconds" })
        .max(86400 * 365, { error: "expected at most one year of seconds" })
        .default(CONFIG_DEFAULTS.share_timeout_secs),
      state_dir: z.string({ error: NAME_FIX }).min(1, { error: NAME_FIX }).default(CONFIG_DEFAULTS.state_dir),
      // `allowed_auth_schemes` (the issue's name) and `auth_schemes` (the first spelling) are the same setting.
      allowed_auth_schemes: authSchemesSchema().optional(),
      auth_schemes: authSchemesSchema().optional(),
      // Default: true when a node is placed off loopback (config-placement.ts), else false.
      tls: z.boolean({ error: "expected true or false" }).optional(),
      // Plain HTTP off loopback only with insecure: true (status and the nodes' logs flag it).
      insecure: z.boolean({ error: "expected true or false" }).default(CONFIG_DEFAULTS.insecure),
      // Reference compatibility: every client with exactly one SAE takes ETSI calls without Authorization as from it.
      etsi_anonymous_single_sae: z.boolean({ error: "expected true or false" }).default(CONFIG_DEFAULTS.etsi_anonymous_single_sae),
      // PSRD delivery (issue 12): bundles carried out of band by the hubs' local distributors, or
      // network (GET psrd, authenticated, confirmed in band) for labs and reference peers.
      psrd_delivery: z.enum(["bundle", "network"], { error: "expected bundle or network" }).default(CONFIG_DEFAULTS.psrd_delivery),
      initial_psrd_bytes: intSchema(1024, 1 << 30, "a byte count").default(CONFIG_DEFAULTS.initial_psrd_bytes),
      // How long a request short of PSRD waits for a bundle before it fails.
      psrd_wait_ms: intSchema(100, 600_000, "milliseconds").default(CONFIG_DEFAULTS.psrd_wait_ms),
      // Hub caps per client (registration plane).
      max_clients: intSchema(1, 1_000_000, "a number of clients").default(CONFIG_DEFAULTS.max_clients),
      max_pool_bytes: intSchema(1024, 2 ** 40, "a byte count").default(CONFIG_DEFAULTS.max_pool_bytes),
      max_pool_blocks: intSchema(1, 1_000_000, "a number of blocks").default(CONFIG_DEFAULTS.max_pool_blocks),
      key_source: z.enum(KEY_SOURCES, { error: `expected ${KEY_SOURCES.join(" or ")}` }).default(CONFIG_DEFAULTS.key_source),
      // Key stock of the clients (@dske/client key-stock.ts): look-ahead (0 = off), key lifetime, least demand.
      key_stock_ahead_ms: intSchema(0, 60_000, "milliseconds of demand to establish ahead, 0 = off").default(
        CONFIG_DEFAULTS.key_stock_ahead_ms,
      ),
      key_stock_ttl_ms: intSchema(1000, 3_600_000, "milliseconds a stocked key lives").default(CONFIG_DEFAULTS.key_stock_ttl_ms),
      key_stock_min_rate: intSchema(1, 100_000, "keys per second").default(CONFIG_DEFAULTS.key_stock_min_rate),
      // Node logs (.dske/logs/NAME.log, JSON lines): rotated by size, this many rotated files kept; least level.
      log_max_size: logMaxSizeSchema.default(CONFIG_DEFAULTS.log_max_size),
      log_max_files: logMaxFilesSchema.default(CONFIG_DEFAULTS.log_max_files),
      // Absent: the nodes' default (info, or DSKE_LOG_LEVEL in the environment of `dske-cli start`).
      log_level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` }).optional(),
      // Restart policy of crashed nodes on this host (restart-policy.ts; run by `dske-cli supervise`).
      restart: restartSchema,
      processes: z
        .enum(PROCESS_MODES, { error: `expected ${PROCESS_MODES.join(" or ")} (one process per node, or one per host)` })
        .optional(),
      hubs: z.array(hubSchema, { error: "expected a list of hubs (`- name: hank`)" }).min(1, { error: "expected at least one hub" }),
      clients: z
        .array(clientSchema, { error: "expected a list of clients (`- name: carol`)" })
        .min(1, { error: "expected at least one client" }),
    },
    { error: "expected a mapping with at least `hubs:` and `clients:`" },
  )
  .superRefine((cfg, ctx) => {
    if (cfg.processes === "shared" && cfg.restart.policy !== "no") {
      ctx.addIssue({
        code: "custom",
        path: ["processes"],
        message:
          "the restart policy restarts one node's process, and with processes: shared the nodes share one: use processes: separate to have crashed nodes restarted, or restart: no",
      });
    }
    if (cfg.key_stock_ahead_ms > 0 && cfg.key_stock_ttl_ms >= cfg.share_timeout_secs * 1000) {
      ctx.addIssue({
        code: "custom",
        path: ["key_stock_ttl_ms"],
        message: `a stocked key must expire before the hubs drop its shares: expected less than share_timeout_secs × 1000 (${cfg.share_timeout_secs * 1000}); lower key_stock_ttl_ms or raise share_timeout_secs`,
      });
    }
    const seen = new Map<string, string>();
    const claim = (name: string, where: (string | number)[], what: string) => {
      const first = seen.get(name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: where,
          message: `duplicate name '${name}' (already used by ${first}); expected a unique name`,
        });
      } else {
        seen.set(name, what);
      }
    };
    // Node names share one namespace (log and pid files are named after them).
    cfg.hubs.forEach((h, i) => claim(h.name, ["hubs", i, "name"], `hubs[${i}]`));
    cfg.clients.forEach((c, i) => claim(c.name, ["clients", i, "name"], `clients[${i}]`));
    const saes = new Map<string, string>();
    cfg.clients.forEach((c, i) =>
      c.encryptors.forEach((e, j) => {
        const first = saes.get(e.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["clients", i, "encryptors", j, "name"],
            message: `duplicate encryptor (SAE ID) '${e.name}' (already used by ${first}); expected a unique name`,
          });
        } else {
          saes.set(e.name, `clients[${i}].encryptors[${j}]`);
        }
      }),
    );
    const nodes = cfg.hubs.length + cfg.clients.length;
    const last = cfg.base_port + nodes - 1;
    const defaultPorts = [...cfg.hubs, ...cfg.clients].some((n) => n.port === undefined);
    if (last > 65535 && defaultPorts) {
      ctx.addIssue({
        code: "custom",
        path: ["base_port"],
        message: `port overflow: ${nodes} nodes from ${cfg.base_port} need ports up to ${last}; expected base_port ≤ ${65536 - nodes}`,
      });
    }
    if (cfg.min_nr_shares > cfg.hubs.length) {
      ctx.addIssue({
        code: "custom",
        path: ["min_nr_shares"],
        message: `${cfg.min_nr_shares} shares needed but only ${cfg.hubs.length} hubs; expected min_nr_shares ≤ ${cfg.hubs.length} (the number of hubs)`,
      });
    }
    if (cfg.stop_request_psrd_threshold <= cfg.start_request_psrd_threshold) {
      ctx.addIssue({
        code: "custom",
        path: ["stop_request_psrd_threshold"],
        message: `expected a value greater than start_request_psrd_threshold (${cfg.start_request_psrd_threshold})`,
      });
    }
    cfg.clients.forEach((c, i) => {
      if (c.etsi_anonymous_single_sae === true && c.encryptors.length !== 1) {
        ctx.addIssue({
          code: "custom",
          path: ["clients", i, "etsi_anonymous_single_sae"],
          message: `client ${c.name} hosts ${c.encryptors.length} encryptors: only a client with exactly one can take ETSI calls without Authorization as from it; remove etsi_anonymous_single_sae from ${c.name} or give it one encryptor`,
        });
      }
    });
    if (cfg.allowed_auth_schemes !== undefined && cfg.auth_schemes !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["auth_schemes"],
        message: "auth_schemes is the older spelling of allowed_auth_schemes; expected only one of them",
      });
    }
    checkReferenceNodes(cfg, ctx);
    checkPlacement(cfg, ctx);
    checkHubSubsets(cfg, ctx);
    checkReplicas(cfg, ctx);
  })
  .transform(({ allowed_auth_schemes, auth_schemes, tls, ...cfg }) => ({
    ...cfg,
    /** Explicit, else true when a node is placed off loopback (config-placement.ts). */
    tls: tls ?? tlsByDefault(cfg),
    /** The hubs accept these schemes; clients propose the first and, without hmac-sha256, refuse the fallback. */
    auth_schemes: allowed_auth_schemes ?? auth_schemes ?? [...CONFIG_DEFAULTS.auth_schemes],
  }));

/**
 * A topology with reference-implementation nodes: they sign with hmac-sha256 only, so our hubs
 * must accept it and our clients must be allowed to fall back to it; and a reference client
 * makes at most 16 shares (one per hub).
 */
function checkReferenceNodes(
  cfg: {
    hubs: readonly { name: string; implementation: Implementation }[];
    clients: readonly { name: string; implementation: Implementation }[];
    allowed_auth_schemes?: readonly string[];
    auth_schemes?: readonly string[];
  },
  ctx: z.RefinementCtx,
): void {
  const reference = [
    ...cfg.hubs.flatMap((h, i) => (h.implementation === "reference" ? [`hubs[${i}] ${h.name}`] : [])),
    ...cfg.clients.flatMap((c, i) => (c.implementation === "reference" ? [`clients[${i}] ${c.name}`] : [])),
  ];
  if (reference.length === 0) return;
  const key = cfg.auth_schemes !== undefined && cfg.allowed_auth_schemes === undefined ? "auth_schemes" : "allowed_auth_schemes";
  const schemes = cfg.allowed_auth_schemes ?? cfg.auth_schemes ?? CONFIG_DEFAULTS.auth_schemes;
  if (!schemes.includes("hmac-sha256")) {
    ctx.addIssue({
      code: "custom",
      path: [key],
      message:
        `the topology has reference-implementation nodes (${reference.join(", ")}), which sign with hmac-sha256 only, ` +
        `but ${key} is [${schemes.join(", ")}]; expected hmac-sha256 listed too, e.g. \`${key}: [gf128, hmac-sha256]\``,
    });
  }
  const referenceClients = reference.filter((r) => r.startsWith("clients"));
  if (referenceClients.length > 0 && cfg.hubs.length > REFERENCE_MAX_HUBS) {
    ctx.addIssue({
      code: "custom",
      path: ["hubs"],
      message: `${cfg.hubs.length} hubs, but reference-implementation clients (${referenceClients.join(", ")}) split keys into at most ${REFERENCE_MAX_HUBS} shares; expected at most ${REFERENCE_MAX_HUBS} hubs`,
    });
  }
}

/** A validated configuration, defaults applied. */
export type DskeConfig = z.output<typeof configSchema>;
/** What a YAML file may contain (optional attributes may be absent). */
export type DskeConfigInput = z.input<typeof configSchema>;

/** One problem in a config file. */
export interface ConfigIssue {
  /** YAML path like `clients[2].encryptors[0].name`, "" for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly col?: number;
}

/** The configuration file cannot be read, parsed or validated. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(formatConfigError(file, issues));
  }
}

function formatConfigError(file: string, issues: readonly ConfigIssue[]): string {
  const lines = issues.map((i) => {
    const where = i.line !== undefined ? ` (line ${i.line}, col ${i.col})` : "";
    const p = i.path === "" ? "(document)" : i.path;
    return `  ${p}${where}: ${i.message}`;
  });
  const n = issues.length;
  return `invalid configuration file ${file}: ${n} problem${n === 1 ? "" : "s"}\n${lines.join("\n")}`;
}

/** `["clients", 2, "encryptors", 0, "name"]` → `clients[2].encryptors[0].name`. */
export function formatYamlPath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of p) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** Line/col of the deepest existing node on `p` (the parent if the attribute is missing). */
function locate(doc: Document, lc: LineCounter, p: readonly PropertyKey[]): { line?: number; col?: number } {
  let node: unknown = doc.contents;
  let best: unknown = node;
  for (const seg of p) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isNode(it.key) && (it.key as { value?: unknown }).value === seg);
      if (!pair) break;
      node = pair.value;
      best = isNode(pair.value) ? pair.value : pair.key;
    } else if (isSeq(node) && typeof seg === "number") {
      node = node.items[seg];
      if (!isNode(node)) break;
      best = node;
    } else break;
  }
  if (isNode(best) && best.range) {
    const pos = lc.linePos(best.range[0]);
    return { line: pos.line, col: pos.col };
  }
  return {};
}

/** The plain value at a path of the parsed document (undefined if absent). */
function valueAt(raw: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const seg of p) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** Parse and validate YAML text; `file` names it in errors. */
export function parseConfig(text: string, file: string): DskeConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        const fix =
          e.code === "DUPLICATE_KEY"
            ? "expected each attribute at most once"
            : "expected valid YAML (check indentation, colons and brackets)";
        return { path: "", message: `YAML syntax error: ${e.message}; ${fix}`, line: pos.line, col: pos.col };
      }),
    );
  }
  const raw: unknown = doc.toJS();
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((iss) => {
        let message = iss.message;
        let issuePath: PropertyKey[] = [...iss.path];
        if (iss.code === "unrecognized_keys") {
          const keys = iss.keys.map((k) => `'${k}'`).join(", ");
          message = `unknown attribute${iss.keys.length > 1 ? "s" : ""} ${keys}; expected only the attributes documented in dske-config.yaml (check the spelling)`;
          if (iss.keys.length === 1) issuePath = [...issuePath, iss.keys[0]];
        } else if (iss.code === "invalid_type" && valueAt(raw, iss.path) === undefined) {
          message = `missing required attribute; ${iss.message}`;
        }
        return { path: formatYamlPath(issuePath), message, ...locate(doc, lc, issuePath) };
      }),
    );
  }
  return result.data;
}

/** Read, parse and validate a config file. */
export function loadConfig(file: string): DskeConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : `cannot read it (${code ?? String(err)})`;
    throw new ConfigError(file, [{ path: "", message: `${why}; expected a topology YAML file (pass --config FILE)` }]);
  }
  return parseConfig(text, file);
}

/** The state directory: `--state-dir`, else `state_dir` of the config, relative to the config file. */
export function resolveStateDir(configFile: string, config: DskeConfig, override?: string): string {
  if (override !== undefined) return path.resolve(override);
  return path.resolve(path.dirname(path.resolve(configFile)), config.state_dir);
}
