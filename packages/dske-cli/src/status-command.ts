/**
 * `dske-cli status`: per selected node (hubs first), a readable summary (peers, PSRD levels,
 * shares or keys); with `--json` ONE JSON document (statusJson): the node's own status document
 * when exactly one node is selected, else an array of them; with `--reference` the reference
 * manager's lines: "Status for hub hank on port 8100" followed by the node's status JSON.
 * Nodes on other hosts (multi-host topologies) are asked at their host and port, and marked remote.
 */
import { probeNode, type OperatorCredential } from "./mgmt";
import type { Output } from "./output";
import { blockPoolStats, clientStatusSchema, hubStatusSchema, type PoolStatsView } from "./status-schema";
import { nodePlace } from "./placement";
import type { NodeSpec, Selection } from "./topology";
import type { NodeOverview } from "./status-table";

export interface StatusResult {
  readonly node: NodeSpec;
  readonly running: boolean;
  readonly status?: unknown;
  readonly detail?: string;
  /** Something answers on the node's port but not with its status (e.g. management refused: 401/403). */
  readonly foreign?: boolean;
  /** The node is placed on another host. */
  readonly remote?: boolean;
}

/** `credential`: the operator token, and the operator's certificate when the clients run with mutual TLS. */
export async function collectStatus(
  selection: Selection,
  credential?: OperatorCredential,
  isRemote: (node: NodeSpec) => boolean = () => false,
): Promise<StatusResult[]> {
  return Promise.all(
    selection.nodes.map(async (node): Promise<StatusResult> => {
      const r = await probeNode(node, 5000, credential);
      const remote = isRemote(node) ? { remote: true } : {};
      if (r.state === "up") return { node, running: true, status: r.status, ...remote };
      return r.state === "foreign"
        ? { node, running: false, detail: r.detail, foreign: true, ...remote }
        : { node, running: false, detail: r.detail, ...remote };
    }),
  );
}

/** Why a node gave no status document, in the words of every output format. */
function statusError(r: StatusResult): string {
  return r.foreign ? `no status (${r.detail})` : `not running (${r.detail})`;
}

/** The document standing for a node that gave no status. */
export interface MissingStatus {
  readonly name: string;
  readonly kind: NodeSpec["kind"];
  readonly running: false;
  readonly error: string;
  readonly remote?: true;
}

function missing(r: StatusResult): MissingStatus {
  return { name: r.node.name, kind: r.node.kind, running: false, error: statusError(r), ...(r.remote ? { remote: true } : {}) };
}

/**
 * `status --json`: exactly one node selected → that node's status document itself (so that the
 * user guide's `jq '.peer_hubs[] | ...'` recipes apply as they are); otherwise an array with one
 * entry per node: its status document with `kind` and `running: true` added, or a MissingStatus.
 * With `overviews` (status-table.ts), every document also gets `overview` (state, pid, uptime,
 * RSS, restarts, keys/s, PSRD headroom, last exit): what the table shows.
 */
export function statusJson(results: readonly StatusResult[], overviews?: readonly NodeOverview[]): unknown {
  const docs = results.map((r, i) => {
    const doc: object = r.running && typeof r.status === "object" && r.status !== null ? r.status : missing(r);
    return overviews?.[i] !== undefined ? { ...doc, overview: overviews[i] } : doc;
  });
  const one = results.length === 1 ? docs[0] : undefined;
  if (one !== undefined) return one;
  return results.map((r, i) =>
    r.running && typeof r.status === "object" && r.status !== null
      ? { name: r.node.name, kind: r.node.kind, running: true, ...(r.remote ? { remote: true } : {}), ...docs[i] }
      : docs[i],
  );
}

export function printStatusJson(results: readonly StatusResult[], out: Output, overviews?: readonly NodeOverview[]): void {
  out.line(JSON.stringify(statusJson(results, overviews), null, 2));
}

/** `status --reference`: the reference manager's format, one "Status for ..." line and the node's JSON per node. */
export function printStatusReference(results: readonly StatusResult[], out: Output): void {
  for (const r of results) {
    out.line(`Status for ${r.node.kind} ${r.node.name} on ${nodePlace(r.node)}`);
    out.line(JSON.stringify(r.running ? r.status : { error: statusError(r) }, null, 2));
  }
}

function pool(p: PoolStatsView | null | undefined): string {
  if (p === undefined || p === null) return "none";
  const avail = p.available ?? (p.size !== undefined && p.used !== undefined ? p.size - p.used : undefined);
  const parts = [`${avail ?? "?"} B left`];
  if (p.used !== undefined) parts.push(`${p.used} B used`);
  if (p.blocks !== undefined) parts.push(`${p.blocks} block${p.blocks === 1 ? "" : "s"}`);
  return parts.join(", ");
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

/** A JSON scalar as text (strings bare); objects and arrays as JSON. */
function jsonText(x: unknown): string {
  if (typeof x === "string") return x;
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "bigint") return x.toString();
  if (x === undefined) return "undefined";
  return JSON.stringify(x);
}

function summariseCounts(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "object") return jsonText(v);
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k} ${jsonText(x)}`)
    .join(", ");
}

export function formatNodeSummary(r: StatusResult): string[] {
  const head = `${r.node.kind === "hub" ? "Hub" : "Client"} ${r.node.name} on ${nodePlace(r.node)}${r.remote ? " (remote)" : ""}`;
  if (!r.running) return [r.foreign ? `${head}: answers, but gives no status (${r.detail})` : `${head}: ${statusError(r)}`];
  const insecure = (r.status as { insecure?: unknown }).insecure === true;
  const lines = [`${head}: running${insecure ? " (insecure: true, plain HTTP off loopback)" : ""}`];
  if (r.node.kind === "hub") {
    const parsed = hubStatusSchema.safeParse(r.status);
    if (!parsed.success) return [...lines, `  (unrecognised status document; use --json)`];
    const s = parsed.data;
    lines.push(`  peer clients: ${s.peer_clients.length}`);
    const w = Math.max(8, ...s.peer_clients.map((c) => c.client_name.length));
    for (const c of s.peer_clients) {
      const enc = c.encryptor_names && c.encryptor_names.length > 0 ? c.encryptor_names.join(",") : "-";
      lines.push(
        // A reference hub has no `pools`, only its block view: local = hub-owned, peer = client-owned.
        `    ${pad(c.client_name, w)}  SAEs ${pad(enc, 12)} auth ${pad(c.auth_scheme ?? "?", 11)} client-owned PSRD: ${pool(c.pools?.client_owned ?? blockPoolStats(c.peer_pool))}; hub-owned: ${pool(c.pools?.hub_owned ?? blockPoolStats(c.local_pool))}`,
      );
    }
    if (s.shares !== undefined) lines.push(`  shares stored: ${s.shares.length}`);
    return lines;
  }
  const parsed = clientStatusSchema.safeParse(r.status);
  if (!parsed.success) return [...lines, `  (unrecognised status document; use --json)`];
  const s = parsed.data;
  const enc = s.encryptors ?? s.encryptor_names ?? r.node.encryptors;
  lines.push(`  encryptors: ${enc.length > 0 ? enc.join(", ") : "(none)"}`);
  const registered = s.peer_hubs.filter((h) => h.registered === true).length;
  lines.push(`  peer hubs: ${registered} of ${s.peer_hubs.length} registered`);
  const w = Math.max(8, ...s.peer_hubs.map((h) => (h.hub_name ?? "?").length));
  for (const h of s.peer_hubs) {
    lines.push(
      // A reference client has no `pools`, only its block view: local = client-owned, peer = hub-owned.
      `    ${pad(h.hub_name ?? h.url ?? "?", w)}  ${pad(h.registered ? "registered" : "NOT registered", 14)} auth ${pad(h.auth_scheme ?? "?", 11)} client-owned PSRD: ${pool(h.pools?.client_owned ?? blockPoolStats(h.local_pool))}; hub-owned: ${pool(h.pools?.hub_owned ?? blockPoolStats(h.peer_pool))}${h.notice !== undefined ? ` (${h.notice})` : ""}`,
    );
  }
  const keys = summariseCounts(s.keys);
  if (keys !== "") lines.push(`  keys: ${keys}`);
  return lines;
}

export function printStatusSummary(results: readonly StatusResult[], out: Output, insecure = false): void {
  if (insecure) out.line("Topology: insecure: true (plain HTTP off loopback allowed by the configuration)");
  for (const r of results) for (const l of formatNodeSummary(r)) out.line(l);
}
