/**
 * HubStateBackend: where the hub's durable state records (registrations, bundle chains, staged
 * blocks, shares, fetch marks, acknowledgements, deletions; hub-state.ts) are kept.
 *
 * - The default is the state journal file under the state directory (@dske/psrd's StateJournal),
 *   one process per hub.
 * - A shared backend (PostgreSQL, storage/pg-state-backend.ts) lets several replicas of one hub
 *   use one database: each replica keeps the live state in memory as a single hub does, and
 *   `sync` returns the records the other replicas wrote since the last call. The hub applies them
 *   before it serves a request (a read barrier, shared-state.ts), so whatever one replica stored
 *   before a request reached another one is seen by that one.
 *
 * Domain code sees only this interface; the database driver stays in the backend's own file.
 */
export interface HubStateBackend {
  /** Append records (in order). `durable: false` lets a file journal sync them a little later. */
  append(records: readonly unknown[], options?: { durable?: boolean }): Promise<void>;
  /** Replace every record by this snapshot of the live state (compaction of a file journal). */
  rewrite(records: readonly unknown[]): Promise<void>;
  /** Size in bytes (drives the compaction of a file journal; 0 for a backend that compacts itself). */
  readonly size: number;
  close(): Promise<void>;
}

/** A backend that replicas share: the records of the other replicas, and its own compaction. */
export interface SharedStateBackend extends HubStateBackend {
  readonly shared: true;
  /** Every record in the backend, oldest first (at open). Moves the sync cursor past them. */
  load(): Promise<unknown[]>;
  /** The records other replicas appended since the last `load` / `sync`, oldest first. */
  sync(): Promise<unknown[]>;
  /** Short name of the backend and the replica for logs and status (e.g. "postgres, replica 3f2a…"). */
  readonly description: string;
}

export function isShared(backend: HubStateBackend | undefined): backend is SharedStateBackend {
  return backend !== undefined && (backend as Partial<SharedStateBackend>).shared === true;
}
