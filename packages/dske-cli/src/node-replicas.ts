/**
 * Storage and replicas of hubs and clients in the topology (README, "PostgreSQL and replicas",
 * "Replicas of a client (KME)"):
 *
 *   hubs:
 *     - name: hank
 *       storage: { kind: postgres, url_env: HANK_DB }   # or url: postgres://…
 *       replicas: 3                                      # ports: port, port+1, port+2 (or replica_ports)
 *   clients:
 *     - name: carol
 *       storage: { kind: postgres, url_env: CAROL_DB }
 *       replicas: 2
 *
 * - `storage`: `file` (default: journal and PSRD files under the node's state dir) or `postgres`
 *   with the database URL (`url`, or `url_env`: the name of an environment variable of dske-cli that
 *   holds it, so that a password stays out of the YAML). The hub process gets the URL in its
 *   environment (DSKE_STORAGE_URL), never on its command line.
 * - `replicas: N` (needs postgres): N processes of the node, one name and one database, each its
 *   own port and state dir; dske-cli names them `hank#1` … `hank#N` (start, stop, status rows,
 *   systemd units). The clients get every replica URL of a hub and fail over between them. The
 *   replicas of a client are each a KME its SAEs may call (an SAE fails over by itself); only the
 *   first one is in the hubs' distribution plan (PSRD bundles), the others use the PSRD it
 *   installs through the shared database.
 */
import path from "node:path";
import { z } from "zod";
import { CliError } from "./errors";

export const STORAGE_URL_ENV = "DSKE_STORAGE_URL";

const URL_FIX = "expected a URL postgres://USER[:PASSWORD]@HOST:PORT/DATABASE";
const ENV_FIX = "expected the name of an environment variable (letters, digits, _)";

export const storageSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("file") }),
    z
      .strictObject({
        kind: z.literal("postgres"),
        url: z
          .string({ error: URL_FIX })
          .regex(/^postgres(ql)?:\/\/\S+$/, { error: URL_FIX })
          .optional(),
        url_env: z
          .string({ error: ENV_FIX })
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: ENV_FIX })
          .optional(),
      })
      .refine((s) => (s.url === undefined) !== (s.url_env === undefined), {
        error: "expected exactly one of url (postgres://…) or url_env (the environment variable holding the URL)",
      }),
  ],
  { error: "expected `storage: { kind: file }` or `storage: { kind: postgres, url: postgres://… }` (or url_env: NAME)" },
);
export type StorageSpec = z.output<typeof storageSchema>;

const PORT_FIX = "expected a TCP port (an integer from 1 to 65535)";

/** Optional attributes of a hub or a client: its storage and its replicas. */
export const replicaFields = {
  storage: storageSchema.optional(),
  replicas: z
    .number({ error: "expected a number of replicas (an integer from 1 to 16)" })
    .int({ error: "expected a number of replicas (an integer from 1 to 16)" })
    .min(1, { error: "expected a number of replicas (an integer from 1 to 16)" })
    .max(16, { error: "expected a number of replicas (an integer from 1 to 16)" })
    .optional(),
  replica_ports: z
    .array(z.number({ error: PORT_FIX }).int({ error: PORT_FIX }).min(1, { error: PORT_FIX }).max(65535, { error: PORT_FIX }))
    .optional(),
};

interface ReplicatedNode {
  readonly name: string;
  readonly implementation: string;
  readonly port?: number;
  readonly storage?: StorageSpec;
  readonly replicas?: number;
  readonly replica_ports?: readonly number[];
}

/** Config checks: replicas need postgres; replica_ports has one port per replica; our nodes only; no port twice. */
export function checkReplicas(
  cfg: { base_port: number; hubs: readonly ReplicatedNode[]; clients: readonly ReplicatedNode[] },
  ctx: z.RefinementCtx,
): void {
  const groups = [
    { key: "hubs" as const, kind: "hub", nodes: cfg.hubs, first: cfg.base_port },
    { key: "clients" as const, kind: "client", nodes: cfg.clients, first: cfg.base_port + cfg.hubs.length },
  ];
  // Ports of the other nodes (their own or default), against which the extra replicas are checked.
  const taken = new Map<number, string>();
  for (const g of groups) g.nodes.forEach((n, i) => taken.set(n.port ?? g.first + i, `${g.kind} ${n.name}`));
  for (const g of groups) {
    g.nodes.forEach((h, i) => {
      const ports = replicaPorts(h, h.port ?? g.first + i);
      ports.slice(1).forEach((port, r) => {
        const other = taken.get(port);
        if (other !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [g.key, i, h.replica_ports !== undefined ? "replica_ports" : "replicas"],
            message: `replica ${replicaName(h.name, r + 2)} would use port ${port}, which ${other} uses; expected replica_ports: [${ports.map((p, k) => (k === 0 ? p : "…")).join(", ")}] with free ports, or another \`port:\` for ${h.name}`,
          });
        }
        taken.set(port, `replica ${replicaName(h.name, r + 2)}`);
      });
    });
    g.nodes.forEach((h, i) => {
      const n = h.replicas ?? 1;
      if (n > 1 && h.storage?.kind !== "postgres") {
        ctx.addIssue({
          code: "custom",
          path: [g.key, i, "replicas"],
          message: `${g.kind} ${h.name} has ${n} replicas, which share their state in PostgreSQL only; expected \`storage: { kind: postgres, url: postgres://… }\` on ${h.name}, or replicas: 1`,
        });
      }
      if (h.replica_ports !== undefined && h.replica_ports.length !== n) {
        ctx.addIssue({
          code: "custom",
          path: [g.key, i, "replica_ports"],
          message: `${g.kind} ${h.name}: ${h.replica_ports.length} replica_ports for ${n} replicas; expected one port per replica (the first is the ${g.kind}'s port)`,
        });
      }
      if (h.implementation === "reference" && (h.storage !== undefined || n > 1)) {
        ctx.addIssue({
          code: "custom",
          path: [g.key, i, h.storage !== undefined ? "storage" : "replicas"],
          message: `${g.kind} ${h.name} is run by the reference implementation: dske-cli cannot give it storage or replicas; remove them`,
        });
      }
    });
  }
}

/** The ports of a hub's replicas: `replica_ports`, else its port, port+1, … */
export function replicaPorts(hub: Pick<ReplicatedNode, "replicas" | "replica_ports">, port: number): number[] {
  const n = hub.replicas ?? 1;
  return hub.replica_ports !== undefined ? [...hub.replica_ports] : Array.from({ length: n }, (_, r) => port + r);
}

/** dske-cli's name of replica `r` (1-based) of node `name` (its pid file, log, state dir, status row). */
export function replicaName(name: string, r: number): string {
  return `${name}#${r}`;
}

/** The node's storage URL from the spec (`url`, or the variable `url_env` of `env`), or an error message. */
export function storageUrl(node: string, storage: Extract<StorageSpec, { kind: "postgres" }>, env: NodeJS.ProcessEnv): string {
  if (storage.url !== undefined) return storage.url;
  const v = storage.url_env !== undefined ? env[storage.url_env] : undefined;
  if (v === undefined || v === "") {
    throw new CliError(
      `${node}: storage.url_env names ${storage.url_env ?? "(none)"}, which is not set in dske-cli's environment; export ${storage.url_env ?? "IT"}=postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    );
  }
  return v;
}

/** Base name of a node's files under `<state>/storage-keys/`: a hub's `NAME`, a client's `client-NAME`. */
export function storageFileBase(kind: "hub" | "client", name: string): string {
  return kind === "hub" ? name : `client-${name}`;
}

/** Arguments of a node on postgres: the storage kind and the key files its replicas share (the URL goes in the environment). */
export function storageArgs(storage: StorageSpec | undefined, stateRoot: string, kind: "hub" | "client", name: string): string[] {
  if (storage?.kind !== "postgres") return [];
  const base = storageFileBase(kind, name);
  return [
    "--storage",
    "postgres",
    "--storage-key-file",
    path.join(stateRoot, "storage-keys", `${base}.key`),
    "--psrd-key-file",
    path.join(stateRoot, "storage-keys", `${base}.psrd.key`),
  ];
}
