/**
 * `dske-cli status`: per selected node (hubs first), a readable summary (peers, PSRD levels,
 * shares or keys) or, with `--json`, the reference format: "Status for hub hank on port 8100"
 * followed by the node's raw status JSON.
 */
import { probeNode, type OperatorCredential } from "./mgmt";
import type { Output } from "./output";
import { clientStatusSchema, hubStatusSchema, type PoolStatsView } from "./status-schema";
import type { NodeSpec, Selection } from "./topology";

export interface StatusResult {
  readonly node: NodeSpec;
  readonly running: boolean;
  readonly status?: unknown;
  readonly detail?: string;
  /** Something answers on the node's port but not with its status (e.g. management refused: 401/403). */
  readonly foreign?: boolean;
}

/** `credential`: the operator token, and the operator's certificate when the clients run with mutual TLS. */
export async function collectStatus(selection: Selection, credential?: OperatorCredential): Promise<StatusResult[]> {
  return Promise.all(
    selection.nodes.map(async (node): Promise<StatusResult> => {
      const r = await probeNode(node, 5000, credential);
      if (r.state === "up") return { node, running: true, status: r.status };
      return r.state === "foreign" ? { node, running: false, detail: r.detail, foreign: true } : { node, running: false, detail: r.detail };
    }),
  );
}

export function printStatusJson(results: readonly StatusResult[], out: Output): void {
  for (const r of results) {
    out.line(`Status for ${r.node.kind} ${r.node.name} on port ${r.node.port}`);
    out.line(
      JSON.stringify(r.running ? r.status : { error: r.foreign ? `no status (${r.detail})` : `not running (${r.detail})` }, null, 2),
    );
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
  const head = `${r.node.kind === "hub" ? "Hub" : "Client"} ${r.node.name} on port ${r.node.port}`;
  if (!r.running) return [r.foreign ? `${head}: answers, but gives no status (${r.detail})` : `${head}: not running (${r.detail})`];
  const lines = [`${head}: running`];
  if (r.node.kind === "hub") {
    const parsed = hubStatusSchema.safeParse(r.status);
    if (!parsed.success) return [...lines, `  (unrecognised status document; use --json)`];
    const s = parsed.data;
    lines.push(`  peer clients: ${s.peer_clients.length}`);
    const w = Math.max(8, ...s.peer_clients.map((c) => c.client_name.length));
    for (const c of s.peer_clients) {
      const enc = c.encryptor_names && c.encryptor_names.length > 0 ? c.encryptor_names.join(",") : "-";
      lines.push(
        `    ${pad(c.client_name, w)}  SAEs ${pad(enc, 12)} auth ${pad(c.auth_scheme ?? "?", 11)} client-owned PSRD: ${pool(c.pools?.client_owned)}; hub-owned: ${pool(c.pools?.hub_owned)}`,
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
      `    ${pad(h.hub_name ?? h.url ?? "?", w)}  ${pad(h.registered ? "registered" : "NOT registered", 14)} auth ${pad(h.auth_scheme ?? "?", 11)} client-owned PSRD: ${pool(h.pools?.client_owned)}; hub-owned: ${pool(h.pools?.hub_owned)}`,
    );
  }
  const keys = summariseCounts(s.keys);
  if (keys !== "") lines.push(`  keys: ${keys}`);
  return lines;
}

export function printStatusSummary(results: readonly StatusResult[], out: Output): void {
  for (const r of results) for (const l of formatNodeSummary(r)) out.line(l);
}
