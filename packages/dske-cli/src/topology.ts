/**
 * The topology: the nodes of a validated config with their hosts, ports and URLs (by default every
 * node on 127.0.0.1, hubs at base_port, base_port + 1, ...; clients follow; a node may name its
 * `host`, `listen` and `port`), each client's hubs, and the selection of nodes by --hub/--client filters.
 */
import { urlHost } from "./addresses";
import type { DskeConfig, Implementation } from "./config";
import { clientShares, DEFAULT_HOST, placeNode } from "./config-placement";
import { replicaName, replicaPorts, type StorageSpec } from "./node-replicas";

export type NodeKind = "hub" | "client";

export interface NodeSpec {
  readonly kind: NodeKind;
  readonly name: string;
  readonly port: number;
  /** Encryptors (SAE IDs) hosted by a client; [] for hubs. */
  readonly encryptors: readonly string[];
  /**
   * `reference`: the node is run by the reference implementation's own manager at its usual port;
   * dske-cli neither starts nor stops it (it reports it as external), and our nodes are told about it.
   * Absent: `dske`.
   */
  readonly implementation?: Implementation;
  /** Address or DNS name peers reach the node at. Absent: 127.0.0.1. */
  readonly host?: string;
  /** Address the node binds. Absent: 127.0.0.1. */
  readonly listen?: string;
  /** A client's hubs (names, topology order; its `hubs:` subset, else every hub). */
  readonly hubs?: readonly string[];
  /** A client's min_nr_shares (its own, else the top-level one). */
  readonly minNrShares?: number;
  /** A node's storage (absent: files under its state dir; node-replicas.ts). */
  readonly storage?: StorageSpec;
  /**
   * A replica of a hub or client (node-replicas.ts): `name` is dske-cli's name of the process
   * (`hank#2`, `carol#2`), `baseName` the node's own (`hank`, in its URL), `replica` its number from 1.
   */
  readonly baseName?: string;
  readonly replica?: number;
  /** A node with replicas: its replicas (the node itself is listed with the first one's port). */
  readonly replicas?: readonly NodeSpec[];
}

/** The name a node goes by on the wire (a replica: its node's). */
export function wireName(node: Pick<NodeSpec, "name" | "baseName">): string {
  return node.baseName ?? node.name;
}

/** A node with `replicas` / `replica_ports` in the YAML as the node and its replica processes (`name#1` …). */
function withReplicas(node: NodeSpec, spec: { replicas?: number; replica_ports?: readonly number[] }): NodeSpec {
  if ((spec.replicas ?? 1) === 1 && spec.replica_ports === undefined) return node;
  const ports = replicaPorts(spec, node.port);
  const replicas = ports.map((port, r) => ({ ...node, name: replicaName(node.name, r + 1), baseName: node.name, replica: r + 1, port }));
  return { ...node, port: ports[0], replicas };
}

/** Whether dske-cli leaves the node to another manager (the reference implementation's). */
export function isExternal(node: Pick<NodeSpec, "implementation">): boolean {
  return node.implementation === "reference";
}

/** The host of a node that names none (loopback topologies). */
export const HOST = DEFAULT_HOST;

/** `http://HOST:PORT/KIND/NAME` (`https://` with `secure`: the node serves TLS); IPv6 hosts in brackets. */
export function nodeBaseUrl(node: Pick<NodeSpec, "kind" | "name" | "baseName" | "port" | "host">, secure = false): string {
  return `${secure ? "https" : "http"}://${urlHost(node.host ?? HOST)}:${node.port}/${node.kind}/${encodeURIComponent(wireName(node))}`;
}

/** The base URL(s) clients use for a hub: with replicas, every replica's joined with `|`. */
function hubEntry(hub: NodeSpec, secure: boolean): string {
  return hub.replicas ? hub.replicas.map((r) => nodeBaseUrl(r, secure)).join("|") : nodeBaseUrl(hub, secure);
}

/** `HOST:PORT` of a node (what progress lines and status name). */
export function nodeAddress(node: Pick<NodeSpec, "port" | "host">): string {
  return `${urlHost(node.host ?? HOST)}:${node.port}`;
}

export function nodeLabel(node: Pick<NodeSpec, "kind" | "name">): string {
  return `${node.kind} ${node.name}`;
}

export class Topology {
  readonly hubs: readonly NodeSpec[];
  readonly clients: readonly NodeSpec[];

  constructor(readonly config: DskeConfig) {
    const base = config.base_port;
    this.hubs = config.hubs.map((h, i): NodeSpec => {
      const place = placeNode(h, base + i);
      const hub: NodeSpec = { kind: "hub", name: h.name, ...place, encryptors: [], implementation: h.implementation, storage: h.storage };
      return withReplicas(hub, h);
    });
    const n = config.hubs.length;
    this.clients = config.clients.map((c, j) => {
      const { hubs, k } = clientShares(config, c);
      const client: NodeSpec = {
        kind: "client",
        name: c.name,
        ...placeNode(c, base + n + j),
        encryptors: c.encryptors.map((e) => e.name),
        implementation: c.implementation,
        // Topology order, whatever the order of the client's list.
        hubs: config.hubs.map((h) => h.name).filter((h) => hubs.includes(h)),
        minNrShares: k,
        storage: c.storage,
      };
      return withReplicas(client, c);
    });
  }

  /** All nodes (processes), hubs first (start order): a node with replicas as its replicas. */
  get nodes(): readonly NodeSpec[] {
    return [...this.hubs.flatMap((h) => h.replicas ?? [h]), ...this.clients.flatMap((c) => c.replicas ?? [c])];
  }

  /** Base URLs of all hubs. `secure`: our hubs serve HTTPS (reference hubs stay plain HTTP). */
  hubUrls(secure = false): string[] {
    return this.hubs.map((h) => hubEntry(h, secure && !isExternal(h)));
  }

  /** The hubs a client uses, in topology order (its `hubs:` subset, else every hub). */
  hubsOf(client: Pick<NodeSpec, "hubs">): NodeSpec[] {
    return client.hubs === undefined ? [...this.hubs] : this.hubs.filter((h) => client.hubs?.includes(h.name));
  }

  /** Base URLs of a client's hubs (what it gets as `--hubs`). */
  hubUrlsOf(client: Pick<NodeSpec, "hubs">, secure = false): string[] {
    return this.hubsOf(client).map((h) => hubEntry(h, secure && !isExternal(h)));
  }

  /**
   * Shares a client gathers for a key it receives: the largest min_nr_shares among the clients
   * hosting encryptors (they may send it keys), at least its own.
   */
  gatherMinNrShares(client: Pick<NodeSpec, "minNrShares">): number {
    const own = client.minNrShares ?? this.config.min_nr_shares;
    const senders = this.clients.filter((c) => c.encryptors.length > 0).map((c) => c.minNrShares ?? this.config.min_nr_shares);
    return Math.max(own, ...senders);
  }

  /** SAE ID → hosting client name. */
  kmeDirectory(): Record<string, string> {
    const dir: Record<string, string> = {};
    for (const c of this.clients) for (const e of c.encryptors) dir[e] = c.name;
    return dir;
  }

  /** The client hosting an encryptor, or undefined. */
  clientOfSae(sae: string): NodeSpec | undefined {
    return this.clients.find((c) => c.encryptors.includes(sae));
  }

  allEncryptors(): string[] {
    return this.clients.flatMap((c) => c.encryptors);
  }

  /** The encryptors of the reference-implementation clients (what our clients get as `--reference-saes`). */
  referenceSaes(): string[] {
    return this.clients.filter(isExternal).flatMap((c) => c.encryptors);
  }

  /** The names of the reference-implementation hubs (what our clients get as `--reference-hubs`). */
  referenceHubs(): string[] {
    return this.hubs.filter(isExternal).map((h) => h.name);
  }
}

/** Node filters from `--client NAME` / `--hub NAME` (repeatable). Empty = all nodes. */
export interface NodeFilter {
  readonly clients: readonly string[];
  readonly hubs: readonly string[];
}

export class UnknownNodeError extends Error {
  override readonly name = "UnknownNodeError";
}

export interface Selection {
  /** Selected nodes in start order (hubs first, in config order). */
  readonly nodes: readonly NodeSpec[];
  /** "all nodes" or "client carol, hub hank" (filter order: clients, then hubs — as the reference). */
  readonly description: string;
  readonly all: boolean;
}

export function selectNodes(topology: Topology, filter: NodeFilter): Selection {
  const unknown = [
    ...filter.clients
      .filter((c) => !topology.nodes.some((n) => n.kind === "client" && (n.name === c || wireName(n) === c)))
      .map((c) => `client '${c}'`),
    ...filter.hubs
      .filter((h) => !topology.nodes.some((n) => n.kind === "hub" && (n.name === h || wireName(n) === h)))
      .map((h) => `hub '${h}'`),
  ];
  if (unknown.length > 0) {
    const known = `hubs: ${topology.hubs.map((h) => h.name).join(", ")}; clients: ${topology.clients.map((c) => c.name).join(", ")}`;
    throw new UnknownNodeError(`unknown ${unknown.join(", ")} (not in the configuration; known ${known})`);
  }
  if (filter.clients.length === 0 && filter.hubs.length === 0) {
    return { nodes: topology.nodes, description: "all nodes", all: true };
  }
  // `--hub hank` selects every replica of hank, `--hub hank#2` one of them (`--client` likewise).
  const nodes = topology.nodes.filter((n) => {
    const names = n.kind === "hub" ? filter.hubs : filter.clients;
    return names.includes(wireName(n)) || names.includes(n.name);
  });
  const names = [...[...new Set(filter.clients)].map((c) => `client ${c}`), ...[...new Set(filter.hubs)].map((h) => `hub ${h}`)];
  return { nodes, description: names.join(", "), all: false };
}
