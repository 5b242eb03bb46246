/**
 * HubStorage: where a standalone hub keeps its state, chosen with `--storage`.
 *
 * - `file` (default): the state journal and the FileStore under the state directory (one process).
 * - `postgres`: the hub state records in PostgreSQL (pg-state-backend.ts), shared by every replica
 *   of the hub that names the same database; the secrets in them sealed under the keys of
 *   `--storage-key-file` (epoch-keys.ts), which every replica needs a copy of. The connection URL
 *   comes from the environment variable DSKE_STORAGE_URL (so that its password is not on a
 *   command line that `ps` shows) or from `--storage-url`.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PgPsrdStore } from "@dske/postgres";
import type { PsrdStore } from "@dske/psrd";
import { EpochKeys } from "./epoch-keys.js";
import { PgStateBackend } from "./pg-state-backend.js";
import { RecordSealer } from "./record-sealing.js";

export const STORAGE_URL_ENV = "DSKE_STORAGE_URL";
export const STORAGE_KEY_FILE = "storage.key";
export const PSRD_KEY_FILE = "psrd.key";

export const StorageUrlSchema = z
  .string()
  .regex(/^postgres(ql)?:\/\/\S+$/, { error: "expected a URL postgres://USER[:PASSWORD]@HOST:PORT/DATABASE" });

export type HubStorageConfig =
  | { kind: "file" }
  | {
      kind: "postgres";
      url: string;
      /** Where the URL came from (for messages, never the URL itself: it may hold a password). */
      urlSource: "--storage-url" | typeof STORAGE_URL_ENV;
      keyFile: string;
      /** The key file of the PSRD store in PostgreSQL (@dske/postgres PgPsrdStore). */
      psrdKeyFile: string;
    };

/** The storage options checked (`CliError`-style message naming the option and the fix on failure). */
export function parseStorage(
  o: { storage?: string; storageUrl?: string; storageKeyFile?: string; psrdKeyFile?: string },
  stateDir: string,
  env: NodeJS.ProcessEnv,
): HubStorageConfig | string {
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
  const r = StorageUrlSchema.safeParse(url);
  if (!r.success) return `invalid ${urlSource}: ${r.error.issues[0].message}`;
  return {
    kind: "postgres",
    url,
    urlSource,
    keyFile: path.resolve(o.storageKeyFile ?? path.join(stateDir, STORAGE_KEY_FILE)),
    psrdKeyFile: path.resolve(o.psrdKeyFile ?? path.join(stateDir, PSRD_KEY_FILE)),
  };
}

/** Open the shared state backend of a hub on PostgreSQL. */
export async function openPgHubState(
  config: Extract<HubStorageConfig, { kind: "postgres" }>,
  hub: string,
  shareTimeoutSecs: number,
  onError: (message: string) => void,
): Promise<{ backend: PgStateBackend; close: () => void }> {
  // A quarter of the share timeout per epoch: a share is readable in the database for at most
  // 1.5 share timeouts (README, "PostgreSQL and replicas").
  const epochMs = Math.max(1000, Math.ceil((shareTimeoutSecs * 1000) / 4));
  const keepEpochs = Math.ceil((shareTimeoutSecs * 1000) / epochMs) + 1;
  const keys = await EpochKeys.open(config.keyFile, { epochMs, keepEpochs });
  const backend = await PgStateBackend.open({ url: config.url, hub, sealer: new RecordSealer(keys), onError }).catch((err: unknown) => {
    keys.wipe();
    throw err;
  });
  // Forget the keys of past epochs on time (and move the key file forward).
  const timer = setInterval(
    () => void keys.advance(Date.now()).catch((err: unknown) => onError(`storage key file: ${String(err)}`)),
    epochMs,
  );
  timer.unref();
  return {
    backend,
    close: () => {
      clearInterval(timer);
      keys.wipe();
    },
  };
}

/** The hub's PSRD store in the same database (@dske/postgres PgPsrdStore: one allocation per byte across replicas). */
export async function openPgPsrdStore(config: Extract<HubStorageConfig, { kind: "postgres" }>, auditLog: string): Promise<PsrdStore> {
  await fs.mkdir(path.dirname(config.psrdKeyFile), { recursive: true, mode: 0o700 });
  return PgPsrdStore.open({ url: config.url, keyFile: config.psrdKeyFile, auditLog });
}
