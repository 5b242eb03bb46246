/**
 * Where nodes run (multi-host topologies): the per-node `host`, `listen` and `port` attributes,
 * the per-client `hubs` subset and `min_nr_shares`, and the config checks on them:
 *   - two nodes on the same machine may not share a port;
 *   - plain HTTP off loopback only with `insecure: true` (`tls` is on by default there);
 *   - a client's hubs exist, and its min_nr_shares does not exceed their number;
 *   - two clients that exchange keys (both host encryptors) share at least max(k_a, k_b) hubs.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { defaultListen, isLoopbackHost, machineKey } from "./addresses";

const HOST_FIX = "expected an IP address or a DNS name (e.g. 10.0.0.11, hub1.example.org or ::1)";
const DNS_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const hostSchema = z
  .string({ error: HOST_FIX })
  .trim()
  .refine((h) => isIP(h.replace(/^\[(.*)\]$/, "$1")) !== 0 || DNS_RE.test(h), { error: HOST_FIX });

const LISTEN_FIX = "expected an IP address to bind (e.g. 0.0.0.0 for every interface, 10.0.0.11 or ::)";

/** `host`, `listen`, `port`: optional attributes of every hub and client. */
export const placementFields = {
  host: hostSchema.optional(),
  listen: z
    .string({ error: LISTEN_FIX })
    .trim()
    .refine((h) => isIP(h.replace(/^\[(.*)\]$/, "$1")) !== 0 || h === "localhost", { error: LISTEN_FIX })
    .optional(),
  port: z
    .number({ error: "expected a TCP port (an integer from 1 to 65535)" })
    .int({ error: "expected a TCP port (an integer from 1 to 65535)" })
    .min(1, { error: "expected a TCP port (an integer from 1 to 65535)" })
    .max(65535, { error: "expected a TCP port (an integer from 1 to 65535)" })
    .optional(),
};

/** The placement of a node as written in the YAML. */
interface PlacedNode {
  readonly name: string;
  readonly implementation: string;
  readonly host?: string;
  readonly listen?: string;
  readonly port?: number;
}

interface PlacedConfig {
  readonly base_port: number;
  readonly min_nr_shares: number;
  readonly tls?: boolean;
  readonly insecure: boolean;
  readonly hubs: readonly PlacedNode[];
  readonly clients: readonly (PlacedNode & {
    readonly hubs?: readonly string[];
    readonly min_nr_shares?: number;
    readonly encryptors: readonly unknown[];
  })[];
}

/** Loopback host name of a node without `host`. */
export const DEFAULT_HOST = "127.0.0.1";

/** The resolved place of a node: the host peers reach it at, the address it binds, its port. */
export interface Placement {
  readonly host: string;
  readonly listen: string;
  readonly port: number;
}

/** Place a node: defaults are 127.0.0.1, the host's default bind address and base_port + index. */
export function placeNode(node: Omit<PlacedNode, "name" | "implementation">, defaultPort: number): Placement {
  const host = node.host ?? DEFAULT_HOST;
  return { host, listen: node.listen ?? defaultListen(host), port: node.port ?? defaultPort };
}

/** Is the node reachable, or bound, beyond this machine's loopback? */
export function isOffLoopback(p: Pick<Placement, "host" | "listen">): boolean {
  return !isLoopbackHost(p.host) || !isLoopbackHost(p.listen);
}

function placements(cfg: PlacedConfig): { where: (string | number)[]; label: string; node: PlacedNode; place: Placement }[] {
  const n = cfg.hubs.length;
  return [
    ...cfg.hubs.map((h, i) => ({ where: ["hubs", i], label: `hub ${h.name}`, node: h, place: placeNode(h, cfg.base_port + i) })),
    ...cfg.clients.map((c, j) => ({
      where: ["clients", j],
      label: `client ${c.name}`,
      node: c,
      place: placeNode(c, cfg.base_port + n + j),
    })),
  ];
}

/** `tls` when the YAML does not say: on as soon as one node is placed off loopback. */
export function tlsByDefault(cfg: PlacedConfig): boolean {
  return placements(cfg).some((p) => isOffLoopback(p.place));
}

/** Ports unique per machine; plain HTTP off loopback only with `insecure: true`. */
export function checkPlacement(cfg: PlacedConfig, ctx: z.RefinementCtx): void {
  const all = placements(cfg);
  const taken = new Map<string, string>();
  for (const p of all) {
    const key = `${machineKey(p.place.host)} ${p.place.port}`;
    const first = taken.get(key);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [...p.where, "port"],
        message: `${p.label} and ${first} both use port ${p.place.port} on host ${p.place.host}; expected a distinct \`port:\` for one of them (or another host)`,
      });
    } else {
      taken.set(key, p.label);
    }
  }
  const tls = cfg.tls ?? tlsByDefault(cfg);
  // Our nodes serve plain HTTP without tls; reference-implementation nodes always do.
  const plain = all.filter((p) => isOffLoopback(p.place) && (!tls || p.node.implementation === "reference"));
  if (plain.length > 0 && !cfg.insecure) {
    const names = plain.map((p) => `${p.label} (${p.place.host}, listen ${p.place.listen})`).join(", ");
    ctx.addIssue({
      code: "custom",
      path: plain.every((p) => p.node.implementation === "reference") ? [...plain[0].where, "host"] : ["tls"],
      message:
        `plain HTTP off loopback: ${names} would carry the operator token, key shares and PSRD in clear; ` +
        "expected `tls: true` (the default when a node is off loopback), or `insecure: true` if the network is trusted",
    });
  }
}

/** The hubs a client uses (its `hubs`, else every hub) and its k. */
export function clientShares(
  cfg: Pick<PlacedConfig, "hubs" | "min_nr_shares">,
  client: { hubs?: readonly string[]; min_nr_shares?: number },
): { hubs: string[]; k: number } {
  return { hubs: client.hubs !== undefined ? [...client.hubs] : cfg.hubs.map((h) => h.name), k: client.min_nr_shares ?? cfg.min_nr_shares };
}

/** Subsets name known hubs, once each; k fits the subset; clients exchanging keys share enough hubs. */
export function checkHubSubsets(cfg: PlacedConfig, ctx: z.RefinementCtx): void {
  const known = new Set(cfg.hubs.map((h) => h.name));
  let sound = true;
  for (const [i, c] of cfg.clients.entries()) {
    if (c.implementation === "reference" && (c.hubs !== undefined || c.min_nr_shares !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["clients", i, c.hubs !== undefined ? "hubs" : "min_nr_shares"],
        message: `client ${c.name} is run by the reference implementation, which uses every hub and the top-level min_nr_shares; expected no \`hubs:\` or \`min_nr_shares:\` on it`,
      });
      sound = false;
    }
    const seen = new Set<string>();
    for (const [j, h] of (c.hubs ?? []).entries()) {
      if (!known.has(h)) {
        ctx.addIssue({
          code: "custom",
          path: ["clients", i, "hubs", j],
          message: `unknown hub '${h}'; expected one of the hubs of the topology: ${[...known].join(", ")}`,
        });
        sound = false;
      } else if (seen.has(h)) {
        ctx.addIssue({ code: "custom", path: ["clients", i, "hubs", j], message: `hub '${h}' listed twice; expected each hub once` });
        sound = false;
      }
      seen.add(h);
    }
    const { hubs, k } = clientShares(cfg, c);
    if (k > hubs.length && (c.hubs !== undefined || c.min_nr_shares !== undefined)) {
      const own = c.min_nr_shares !== undefined;
      ctx.addIssue({
        code: "custom",
        path: ["clients", i, own ? "min_nr_shares" : "hubs"],
        message: `client ${c.name} needs ${k} shares${own ? "" : " (the top-level min_nr_shares)"} but uses only ${hubs.length} hubs (${hubs.join(", ")}); expected min_nr_shares ≤ ${hubs.length} for it (set \`min_nr_shares:\` on the client) or more hubs`,
      });
      sound = false;
    }
  }
  // Pairs are judged only once every client's own figures are sound (and the top-level k fits).
  if (!sound || cfg.min_nr_shares > cfg.hubs.length) return;
  // Every pair of clients hosting encryptors may exchange keys, in both directions: a key reaches
  // the slave only through hubs both use, and each side needs its own k of them.
  const exchanging = cfg.clients.map((c, i) => ({ c, i, ...clientShares(cfg, c) })).filter((e) => e.c.encryptors.length > 0);
  for (let a = 0; a < exchanging.length; a++) {
    for (let b = a + 1; b < exchanging.length; b++) {
      const A = exchanging[a];
      const B = exchanging[b];
      const shared = A.hubs.filter((h) => B.hubs.includes(h));
      const need = Math.max(A.k, B.k);
      if (shared.length < need) {
        ctx.addIssue({
          code: "custom",
          path: ["clients", B.c.hubs !== undefined ? B.i : A.i, "hubs"],
          message:
            `clients ${A.c.name} and ${B.c.name} exchange keys but share ${shared.length} hub${shared.length === 1 ? "" : "s"} ` +
            `(${shared.length > 0 ? shared.join(", ") : "none"}); expected at least ${need} (the larger of their min_nr_shares, ${A.k} and ${B.k}): ` +
            "add shared hubs to their `hubs:` lists or lower min_nr_shares",
        });
      }
    }
  }
}
