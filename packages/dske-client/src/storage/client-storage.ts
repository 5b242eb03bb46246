/**
 * ClientStorage: where a standalone client (KME) keeps its state, chosen with `--storage`.
 *
 * - `file` (default): PSRD pools, node state and key journal under the state directory (one process).
 * - `postgres`: the PSRD pools in a PgPsrdStore (@dske/postgres: each byte allocated once across
 *   replicas), the node state and the delivered-key ledger in pg-client-state.ts, shared by every
 *   replica of the client that names the same database; the node state's secrets sealed under
 *   `--storage-key-file` (every replica needs a copy). The URL comes from DSKE_STORAGE_URL (so that
 *   its password is not on a command line that `ps` shows) or from `--storage-url`.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PgPsrdStore } from "@dske/postgres";
import type { PsrdStore } from "@dske/psrd";
import { PgClientState } from "./pg-client-state.js";
import { StateSealer } from "./state-sealing.js";

export const STORAGE_URL_ENV = "DSKE_STORAGE_URL";
export const STORAGE_KEY_FILE = "storage.key";
export const PSRD_KEY_FILE = "psrd.key";

const URL_RE = /^postgres(ql)?:\/\/\S+$/;

export type ClientStorageConfig =
  | { kind: "file" }
  | {
      kind: "postgres";
      url: string;
      /** Where the URL came from (for messages, never the URL itself: it may hold a password). */
      urlSource: "--storage-url" | typeof STORAGE_URL_ENV;
      keyFile: string;
      psrdKeyFile: string;
    };

/** The storage options checked (a message naming the option and the fix on failure). */
export function parseClientStorage(
  o: { storage?: string; storageUrl?: string; storageKeyFile?: string; psrdKeyFile?: string },
  stateDir: string,
  env: NodeJS.ProcessEnv,
): ClientStorageConfig | string {
  const kind = o.storage ?? "file";
  if (kind === "file") {
    if (o.storageUrl !== undefined || o.storageKeyFile !== undefined || o.psrdKeyFile !== undefined) {
      return "--storage-url, --storage-key-file and --psrd-key-file need --storage postgres";
    }
    return { kind: "file" };
  }
  if (kind !== "postgres") return `invalid --storage ${JSON.stringify(kind)}: give file (default) or postgres`;
  const fromEnv = env[STORAGE_URL_ENV];
  const url = o.storageUrl ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined);
  const urlSource = o.storageUrl !== undefined ? "--storage-url" : STORAGE_URL_ENV;
  if (url === undefined) {
    return `--storage postgres needs the database URL: set ${STORAGE_URL_ENV}=postgres://USER:PASSWORD@HOST:PORT/DATABASE in the environment (or give --storage-url without a password)`;
  }
  if (!URL_RE.test(url)) return `invalid ${urlSource}: expected a URL postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`;
  return {
    kind: "postgres",
    url,
    urlSource,
    keyFile: path.resolve(o.storageKeyFile ?? path.join(stateDir, STORAGE_KEY_FILE)),
    psrdKeyFile: path.resolve(o.psrdKeyFile ?? path.join(stateDir, PSRD_KEY_FILE)),
  };
}

export interface OpenedClientStorage {
  psrdStore: PsrdStore;
  /** Node state backend and delivery ledger (one object, one connection pool). */
  state: PgClientState;
  /** This replica's name in the database (sessions, audit rows). */
  replica: string;
}

/** Open the PSRD store, node state and delivery ledger of a client on PostgreSQL. */
export async function openPgClientStorage(
  config: Extract<ClientStorageConfig, { kind: "postgres" }>,
  client: string,
  auditLog: string,
  onError: (message: string) => void,
): Promise<OpenedClientStorage> {
  const replica = `${client}@${os.hostname()}:${process.pid}`;
  const sealer = await StateSealer.open(config.keyFile);
  let state: PgClientState;
  try {
    state = await PgClientState.open({ url: config.url, client, replica, sealer, onError });
  } catch (err) {
    sealer.wipe();
    throw err;
  }
  try {
    await fs.mkdir(path.dirname(config.psrdKeyFile), { recursive: true, mode: 0o700 });
    const psrdStore = await PgPsrdStore.open({ url: config.url, keyFile: config.psrdKeyFile, auditLog, replica });
    return { psrdStore, state, replica };
  } catch (err) {
    await state.close().catch(() => undefined);
    throw err;
  }
}
