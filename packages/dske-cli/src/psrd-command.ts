/**
 * `dske-cli psrd issue` and `dske-cli psrd install`: PSRD bundles by hand, for an operator who
 * carries them between hosts on a medium (the hubs' local distributors do the same automatically
 * on one host).
 *
 * - issue: the hub writes a sealed bundle for a client into its outbox (operator credential);
 *   `--out FILE` then moves it to FILE (e.g. on a USB key), zeroing the outbox copy.
 * - install: the client installs a bundle from a file on its host (operator credential); if the
 *   client is not running, the file is put into its inbox and installed when it starts.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, chmodSync } from "node:fs";
import path from "node:path";
import http from "node:http";
import https from "node:https";
import { loadAxios } from "./lazy-axios";
import { z } from "zod";
import { connectionFailure, NodeDownError, NodeStarter } from "./down-node-hint";
import { CliError } from "./errors";
import type { Output } from "./output";
import type { StateDir } from "./state-dir";
import { isExternal, nodeBaseUrl, type NodeSpec, type Topology } from "./topology";
import type { TlsMaterial } from "./certs";

const IssuedSchema = z.object({
  file: z.string(),
  hub_name: z.string(),
  client_name: z.string(),
  seq: z.int(),
  client_owned_bytes: z.int(),
  hub_owned_bytes: z.int(),
});
const InstalledSchema = z.object({
  hub_name: z.string(),
  seq: z.int(),
  blocks: z.int(),
  client_owned_bytes: z.int(),
  hub_owned_bytes: z.int(),
});

export interface PsrdCommandContext {
  topology: Topology;
  state: StateDir;
  out: Output;
  /** `Authorization: Bearer` value for management calls (the operator token). */
  operatorToken: string | undefined;
  /** Operator certificate for clients under TLS. */
  tls: TlsMaterial | undefined;
  /** How to start a node that is down (the user's --config and --state-dir); default: plain `dske-cli`. */
  starter?: NodeStarter;
}

/** A failed call on `node`: the node named with its start command when nothing answered. */
function unreachable(ctx: PsrdCommandContext, node: NodeSpec, err: unknown): CliError {
  const code = connectionFailure(err);
  if (code !== undefined) return new NodeDownError(node, code, ctx.starter ?? new NodeStarter());
  return new CliError(`${node.kind} ${node.name} is not reachable (${err instanceof Error ? err.message : String(err)})`);
}

async function client(ctx: PsrdCommandContext) {
  const axios = await loadAxios();
  return axios.create({
    proxy: false,
    validateStatus: () => true,
    httpAgent: new http.Agent({ keepAlive: false }),
    httpsAgent: ctx.tls ? new https.Agent({ keepAlive: false, ca: ctx.tls.ca, cert: ctx.tls.cert, key: ctx.tls.key }) : undefined,
    headers: { Accept: "application/json", ...(ctx.operatorToken ? { Authorization: `Bearer ${ctx.operatorToken}` } : {}) },
    timeout: 60_000,
  });
}

function failure(what: string, status: number, data: unknown): CliError {
  const m =
    typeof data === "object" && data !== null && typeof (data as { message?: unknown }).message === "string"
      ? (data as { message: string }).message
      : `HTTP ${status}`;
  return new CliError(`${what}: ${m}`);
}

export async function psrdIssue(
  ctx: PsrdCommandContext,
  opts: { hub: string; client: string; clientOwnedBytes: number; hubOwnedBytes: number; out?: string },
): Promise<void> {
  const hub = ctx.topology.hubs.find((h) => h.name === opts.hub);
  if (!hub) throw new CliError(`no hub named ${opts.hub} in the configuration (hubs: ${ctx.topology.hubs.map((h) => h.name).join(", ")})`);
  if (isExternal(hub)) {
    throw new CliError(`hub ${opts.hub} is a reference-implementation hub: it issues no bundles (its clients fetch PSRD with GET psrd)`);
  }
  if (!ctx.topology.clients.some((c) => c.name === opts.client)) {
    throw new CliError(
      `no client named ${opts.client} in the configuration (clients: ${ctx.topology.clients.map((c) => c.name).join(", ")})`,
    );
  }
  let res;
  try {
    res = await (
      await client(ctx)
    ).post(
      `${nodeBaseUrl(hub, ctx.tls !== undefined && !isExternal(hub))}/mgmt/v1/psrd-bundles`,
      { client_name: opts.client, client_owned_bytes: opts.clientOwnedBytes, hub_owned_bytes: opts.hubOwnedBytes },
      { headers: { "Content-Type": "application/json" } },
    );
  } catch (err) {
    throw unreachable(ctx, hub, err);
  }
  if (res.status !== 200) throw failure(`hub ${opts.hub} did not issue a bundle`, res.status, res.data);
  const issued = IssuedSchema.parse(res.data);
  let file = issued.file;
  if (opts.out) {
    const dest = path.resolve(opts.out);
    moveFile(file, dest);
    file = dest;
  }
  ctx.out.line(
    `Issued PSRD bundle ${issued.seq} of hub ${issued.hub_name} for client ${issued.client_name} (${issued.client_owned_bytes} + ${issued.hub_owned_bytes} bytes): ${file}`,
  );
  ctx.out.line(`Carry it to the client's host and install it there: dske-cli psrd install ${issued.client_name} ${file}`);
}

export async function psrdInstall(ctx: PsrdCommandContext, opts: { client: string; file: string }): Promise<void> {
  const node = ctx.topology.clients.find((c) => c.name === opts.client);
  if (!node)
    throw new CliError(
      `no client named ${opts.client} in the configuration (clients: ${ctx.topology.clients.map((c) => c.name).join(", ")})`,
    );
  const file = path.resolve(opts.file);
  if (!existsSync(file)) throw new CliError(`bundle file ${file} does not exist`);
  let res;
  try {
    res = await (
      await client(ctx)
    ).post(
      `${nodeBaseUrl(node, ctx.tls !== undefined)}/mgmt/v1/psrd-bundles`,
      { file },
      { headers: { "Content-Type": "application/json" } },
    );
  } catch {
    // Not running: leave it in the inbox, installed at the next start.
    const inbox = ctx.state.inboxDir(node.name);
    mkdirSync(inbox, { recursive: true, mode: 0o700 });
    const dest = path.join(inbox, path.basename(file));
    moveFile(file, dest);
    ctx.out.line(`Client ${node.name} is not running: bundle put into its inbox (${dest}); it is installed when ${node.name} starts`);
    return;
  }
  if (res.status !== 200) throw failure(`client ${node.name} refused the bundle ${path.basename(file)}`, res.status, res.data);
  const r = InstalledSchema.parse(res.data);
  ctx.out.line(
    `Installed PSRD bundle ${r.seq} of hub ${r.hub_name} at client ${node.name} (${r.blocks} blocks, ${r.client_owned_bytes} + ${r.hub_owned_bytes} bytes)`,
  );
}

export async function psrdReset(ctx: PsrdCommandContext, opts: { client: string; hub: string }): Promise<void> {
  const node = ctx.topology.clients.find((c) => c.name === opts.client);
  if (!node)
    throw new CliError(
      `no client named ${opts.client} in the configuration (clients: ${ctx.topology.clients.map((c) => c.name).join(", ")})`,
    );
  const hubNode = ctx.topology.hubs.find((h) => h.name === opts.hub);
  if (!hubNode) {
    throw new CliError(`no hub named ${opts.hub} in the configuration (hubs: ${ctx.topology.hubs.map((h) => h.name).join(", ")})`);
  }
  // The hub forgets the client (pools, shares, bundle chain) so that its next bundle is a first one.
  // A reference hub has no such call: the client registers with it again, which resets its side.
  const reference = isExternal(hubNode);
  if (reference)
    ctx.out.line(`Hub ${opts.hub} is a reference-implementation hub: ${opts.client} registers with it again, which resets its side`);
  else
    try {
      const r = await (
        await client(ctx)
      ).delete(`${nodeBaseUrl(hubNode, ctx.tls !== undefined)}/mgmt/v1/registration`, {
        params: { client_name: opts.client },
      });
      if (r.status !== 200) throw failure(`hub ${opts.hub} did not unregister ${opts.client}`, r.status, r.data);
      ctx.out.line(`Hub ${opts.hub} unregistered client ${opts.client} (its PSRD with it zeroed)`);
    } catch (err) {
      if (err instanceof CliError) throw err;
      ctx.out.line(
        `${unreachable(ctx, hubNode, err).message.replace(/^hub/, "Hub")}; once it is back, unregister ${opts.client} there before it issues new bundles`,
      );
    }
  let res;
  try {
    res = await (
      await client(ctx)
    ).post(
      `${nodeBaseUrl(node, ctx.tls !== undefined)}/mgmt/v1/psrd-reset`,
      { hub_name: opts.hub },
      { headers: { "Content-Type": "application/json" } },
    );
  } catch (err) {
    throw unreachable(ctx, node, err);
  }
  if (res.status !== 200) throw failure(`client ${node.name} did not reset its PSRD with ${opts.hub}`, res.status, res.data);
  ctx.out.line(
    reference
      ? `Client ${node.name} forgot its PSRD with hub ${opts.hub}; fresh PSRD follows by GET psrd once it registered again`
      : `Client ${node.name} forgot its PSRD with hub ${opts.hub}; a new first bundle follows from the hub's local distributor`,
  );
}

function moveFile(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw new CliError(`cannot move ${from} to ${to}: ${(err as Error).message}`);
    copyFileSync(from, to);
    chmodSync(to, 0o600);
    throw new CliError(`${to} written; ${from} is on another file system: destroy it (shred) by hand`);
  }
}
