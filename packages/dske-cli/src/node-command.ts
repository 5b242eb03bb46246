/**
 * The command line of each node process (one process per node, as the reference manager runs them), and where the
 * built server scripts of @dske/hub and @dske/client are.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { certLayout } from "./certs";
import type { DskeConfig } from "./config";
import type { StateDir } from "./state-dir";
import { storageArgs, STORAGE_URL_ENV, storageUrl } from "./node-replicas";
import { HOST, isExternal, nodeBaseUrl, wireName, type NodeKind, type NodeSpec, type Topology } from "./topology";

const PACKAGE_OF: Record<NodeKind, string> = { hub: "@dske/hub", client: "@dske/client" };

/** Override the server scripts (tests use tiny fake servers; advanced users their own builds). */
export type ServerScripts = Partial<Record<NodeKind, string>>;

/** `<package dir>/dist/server.js` of @dske/hub or @dske/client, resolved from this package. */
export function defaultServerScript(kind: NodeKind): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve(`${PACKAGE_OF[kind]}/package.json`);
  return path.join(path.dirname(pkgJson), "dist", "server.js");
}

export function serverScript(kind: NodeKind, overrides: ServerScripts = {}): string {
  return overrides[kind] ?? defaultServerScript(kind);
}

/**
 * Arguments after the script path. `tls`: clients serve HTTPS with mutual TLS, hubs serve HTTPS
 * and clients verify them against the topology CA (certs under `<state>/tls`).
 */
export function nodeArgs(node: NodeSpec, topology: Topology, state: StateDir, tls = false): string[] {
  const cfg: DskeConfig = topology.config;
  // The operator token travels as a file path (never on argv); dske-cli creates it before spawning.
  const common = [
    "--port",
    String(node.port),
    "--state-dir",
    state.nodeDir(node.name),
    "--operator-token-file",
    state.operatorTokenFile,
    ...logArgs(node, cfg, state),
  ];
  // Where the node binds; plain HTTP off loopback only with `insecure: true` (the config check).
  const bind = ["--host", node.listen ?? HOST, ...(cfg.insecure ? ["--allow-insecure-bind"] : [])];
  if (node.kind === "hub") {
    return [
      wireName(node),
      ...common,
      ...storageArgs(node.storage, state.root, "hub", wireName(node)),
      ...bind,
      ...(tls ? hubTlsArgs(node, state) : []),
      "--share-timeout-secs",
      String(cfg.share_timeout_secs),
      "--auth-schemes",
      cfg.auth_schemes.join(","),
      "--accept-clients",
      topology.clients.map((c) => c.name).join(","),
      "--psrd-delivery",
      cfg.psrd_delivery,
      "--max-clients",
      String(cfg.max_clients),
      "--max-pool-bytes",
      String(cfg.max_pool_bytes),
      "--max-pool-blocks",
      String(cfg.max_pool_blocks),
      // Also with network delivery: a client's first bundle (its enrollment secret) comes out of band.
      // Replicas: the first one distributes (one bundle chain per client and hub).
      ...((node.replica ?? 1) === 1 ? ["--distribution-plan", state.distributionPlanFile, ...(tls ? distributorTlsArgs(state) : [])] : []),
      ...referenceClientArgs(topology),
    ];
  }
  // A replica (`carol#2`) runs as the client itself (`carol`), with its own state dir and port.
  const args = [
    wireName(node),
    ...common,
    ...storageArgs(node.storage, state.root, "client", wireName(node)),
    "--hubs",
    ...topology.hubUrlsOf(node, tls),
    ...bind,
  ];
  const hubs = topology.hubsOf(node);
  // On a subset of hubs: each hub's topology position (the x of its shares), so that clients with
  // different subsets agree on the hubs they share.
  if (hubs.length !== topology.hubs.length) args.push("--hub-positions", hubs.map((h) => topology.hubs.indexOf(h)).join(","));
  const k = node.minNrShares ?? cfg.min_nr_shares;
  const gatherK = topology.gatherMinNrShares(node);
  if (gatherK > k) args.push("--gather-min-nr-shares", String(gatherK));
  if (node.encryptors.length > 0) args.push("--encryptors", ...node.encryptors);
  args.push(
    "--start-request-psrd-threshold",
    String(cfg.start_request_psrd_threshold),
    "--stop-request-psrd-threshold",
    String(cfg.stop_request_psrd_threshold),
    "--get-psrd-block-size",
    String(cfg.get_psrd_block_size),
    "--min-nr-shares",
    String(k),
    "--kme-directory",
    state.kmeDirectoryFile,
    "--auth-schemes",
    cfg.auth_schemes.join(","),
  );
  if (cfg.key_source !== "random") args.push("--key-source", cfg.key_source);
  // Keys with the SAEs of reference-implementation clients travel in the reference's share format.
  const referenceSaes = topology.referenceSaes();
  if (referenceSaes.length > 0) args.push("--reference-saes", referenceSaes.join(","));
  // Reference-implementation hubs: registration and PSRD (GET psrd) the reference's way, no bundles.
  const referenceHubs = topology.referenceHubs();
  if (referenceHubs.length > 0) args.push("--reference-hubs", referenceHubs.join(","));
  args.push(
    "--psrd-delivery",
    cfg.psrd_delivery,
    "--initial-psrd-bytes",
    String(cfg.initial_psrd_bytes),
    "--psrd-wait-ms",
    String(cfg.psrd_wait_ms),
  );
  args.push(
    "--key-stock-ahead-ms",
    String(cfg.key_stock_ahead_ms),
    "--key-stock-ttl-ms",
    String(cfg.key_stock_ttl_ms),
    "--key-stock-min-rate",
    String(cfg.key_stock_min_rate),
  );
  // Plain HTTP only: under TLS the SAE's certificate names it, and the client refuses the option.
  if (!tls && anonymousSingleSae(cfg, wireName(node))) args.push("--allow-anonymous-sae");
  if (tls) {
    const layout = certLayout(state.root);
    // The replicas of a client serve its certificate (same name).
    const own = layout.client(wireName(node));
    args.push("--tls-cert", own.cert, "--tls-key", own.key, "--tls-ca", layout.caCert);
    // Our hubs serve HTTPS with certificates of the topology CA: the client verifies them against it.
    args.push("--hub-ca", layout.caCert);
  }
  return args;
}

/**
 * Environment of a node process beyond dske-cli's own: a hub or client on postgres gets its
 * database URL (DSKE_STORAGE_URL), which stays off its command line (`ps` shows that to every user).
 */
export function nodeEnv(node: NodeSpec, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (node.storage?.kind !== "postgres") return {};
  return { [STORAGE_URL_ENV]: storageUrl(`${node.kind} ${wireName(node)}`, node.storage, env) };
}

/**
 * The node writes its own log file, JSON lines rotated by size (@dske/server node-log.ts):
 * `.dske/logs/NAME.log`, then NAME.log.1 ... NAME.log.N.
 */
function logArgs(node: NodeSpec, cfg: DskeConfig, state: StateDir): string[] {
  return [
    "--log-file",
    state.logFile(node.name),
    "--log-max-size",
    cfg.log_max_size,
    "--log-max-files",
    String(cfg.log_max_files),
    ...(cfg.log_level !== undefined ? ["--log-level", cfg.log_level] : []),
  ];
}

/**
 * A hub under TLS: its server certificate (SANs: its host and addresses, `dske-cli certs`), and
 * the topology CA, so that its management routes take the operator certificate besides the token.
 */
function hubTlsArgs(node: NodeSpec, state: StateDir): string[] {
  const layout = certLayout(state.root);
  // The replicas of a hub serve its certificate (same name, same host).
  const own = layout.hub(wireName(node));
  return ["--tls-cert", own.cert, "--tls-key", own.key, "--tls-ca", layout.caCert];
}

/**
 * Whether a client takes plain-mode ETSI calls without Authorization as from its one SAE: its own
 * `etsi_anonymous_single_sae` if set (the config check refuses `true` unless it has exactly one
 * SAE), else the top-level setting for every client with exactly one SAE.
 */
export function anonymousSingleSae(cfg: DskeConfig, clientName: string): boolean {
  const c = cfg.clients.find((x) => x.name === clientName);
  if (c === undefined) return false;
  return c.etsi_anonymous_single_sae ?? (cfg.etsi_anonymous_single_sae && c.encryptors.length === 1);
}

/**
 * Reference-implementation clients of the topology may enrol at our hubs the reference's way
 * (registration without proof, PSRD by `GET psrd`), by name and from loopback only (the hub's
 * default `--reference-clients-from`): @dske/hub README, "Reference clients".
 */
function referenceClientArgs(topology: Topology): string[] {
  const names = topology.clients.filter((c) => c.implementation === "reference").map((c) => c.name);
  return names.length > 0 ? ["--reference-clients", names.join(",")] : [];
}

/** The hubs' local distributors call clients served over HTTPS with the operator certificate. */
function distributorTlsArgs(state: StateDir): string[] {
  const layout = certLayout(state.root);
  return [
    "--distributor-tls-ca",
    layout.caCert,
    "--distributor-tls-cert",
    layout.operator.cert,
    "--distributor-tls-key",
    layout.operator.key,
  ];
}

/**
 * The plan the hubs' local distributors follow: every client of ours, its management URL and its
 * inbox (reference-implementation clients install no bundles: they are left out). Only our hubs
 * run a local distributor (dske-cli starts no reference hub), and our clients never expect a
 * bundle from a reference hub (`--reference-hubs`), so reference hubs have no part in it.
 */
export function distributionPlan(
  topology: Topology,
  state: StateDir,
  tls = false,
): { clients: { name: string; url: string; inbox: string }[] } {
  return {
    // A client with replicas: its first replica gets the bundles (the others use its PSRD through
    // the shared database).
    clients: topology.clients
      .filter((c) => !isExternal(c))
      .map((c) => c.replicas?.[0] ?? c)
      .map((c) => ({ name: wireName(c), url: nodeBaseUrl(c, tls), inbox: state.inboxDir(c.name) })),
  };
}
