/**
 * Durable per-hub state of a client:
 * - registration, per hub base URL: the hub name, the negotiated auth scheme and extensions;
 * - PSRD bundle chain, per hub name: the last installed bundle's seq, the chain key that
 *   authenticates the next bundle (one-time, replaced at every install), the auth scheme the
 *   bundles were issued for, the enrollment secret (network delivery / plain-mode credential) and
 *   hub-owned blocks not confirmed to the hub yet.
 * Written atomically (tmp + fsync + rename) on change; memory only when no file is given; or, for
 * replicas of a client, through a shared backend (shared-state.ts) that every replica `refresh`es
 * from (the chain of a bundle one replica installed shows at the others).
 * Never key, share or PSRD bytes. It does hold two bundle secrets: the chain key (it only
 * authenticates the next bundle, and is replaced by the install of that bundle) and the
 * enrollment secret (a credential for optional network delivery); see the README, "Key material on disk".
 */
import { z } from "zod";
import { readJson, writeJsonAtomic } from "@dske/psrd";
import type { NodeStateBackend } from "./shared-state.js";

export const HubRecordSchema = z.object({
  hub_name: z.string(),
  auth_scheme: z.string(),
  extensions: z.array(z.string()).default([]),
});
export type HubRecord = z.infer<typeof HubRecordSchema>;

export const ChainRecordSchema = z.object({
  seq: z.int().min(1),
  /** Chain key for the next bundle (base64, 32 bytes). */
  key: z.string(),
  auth_scheme: z.enum(["gf128", "hmac-sha256"]),
  enrollment_secret: z.string().optional(),
  /** Hub-owned blocks installed but not yet confirmed to the hub (it uses them only after). */
  unconfirmed: z.array(z.string()).default([]),
});
export type ChainRecord = z.infer<typeof ChainRecordSchema>;

const StateSchema = z.object({
  version: z.literal(1),
  hubs: z.record(z.string(), HubRecordSchema),
  chains: z.record(z.string(), ChainRecordSchema).default({}),
});

export class NodeState {
  private hubs: Record<string, HubRecord>;
  private chains: Record<string, ChainRecord>;
  private writing: Promise<void> = Promise.resolve();
  /** The write not yet started that the next change rides on (persist). */
  private queued: Promise<void> | undefined;
  private backend: NodeStateBackend | undefined;
  private readonly listeners: ((hubName: string) => void)[] = [];

  private constructor(
    private readonly file: string | undefined,
    hubs: Record<string, HubRecord>,
    chains: Record<string, ChainRecord> = {},
  ) {
    this.hubs = hubs;
    this.chains = chains;
  }

  /** The state in a backend shared by the replicas of a client (shared-state.ts). */
  static async openShared(backend: NodeStateBackend): Promise<NodeState> {
    const entries = await backend.load();
    const state = new NodeState(undefined, entries.hubs, entries.chains);
    state.backend = backend;
    return state;
  }

  get shared(): boolean {
    return this.backend !== undefined;
  }

  /** Called with the hub name when `refresh` finds a chain another replica changed. */
  onChainChanged(listener: (hubName: string) => void): void {
    this.listeners.push(listener);
  }

  /** Read the shared backend again (no-op without one): the other replicas' registrations and chain steps. */
  async refresh(): Promise<void> {
    if (!this.backend) return;
    const entries = await this.backend.load();
    const changed = Object.keys(entries.chains).filter((h) => {
      const mine = this.chains[h] as ChainRecord | undefined;
      return JSON.stringify(entries.chains[h]) !== JSON.stringify(mine) && (mine?.seq ?? 0) <= entries.chains[h].seq;
    });
    this.hubs = entries.hubs;
    // Never a chain step back: our own write of a newer chain may not be visible to this read yet.
    const chains: Record<string, ChainRecord> = { ...entries.chains };
    for (const [h, c] of Object.entries(this.chains)) {
      const stored = chains[h] as ChainRecord | undefined;
      if (stored && stored.seq < c.seq) chains[h] = c;
    }
    this.chains = chains;
    for (const h of changed) for (const l of this.listeners) l(h);
  }

  static async open(file?: string): Promise<NodeState> {
    if (!file) return new NodeState(undefined, {});
    const raw = await readJson(file);
    if (raw === undefined) return new NodeState(file, {});
    const parsed = StateSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(`client state file ${file} is invalid: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    }
    return new NodeState(file, parsed.data.hubs, parsed.data.chains);
  }

  /** The bundle chain with a hub (by hub name), if a bundle from it was installed. */
  chain(hubName: string): ChainRecord | undefined {
    return this.chains[hubName];
  }

  /** Set the bundle chain with a hub; durable before the promise resolves. */
  async setChain(hubName: string, record: ChainRecord | undefined): Promise<void> {
    const next = record ? { ...this.chains, [hubName]: record } : withoutKey(this.chains, hubName);
    this.chains = next;
    if (this.backend) await this.backend.setChain(hubName, record);
    else await this.persist();
  }

  hub(url: string): HubRecord | undefined {
    return this.hubs[url];
  }

  /** Set (or delete with undefined) the record of a hub; durable before the promise resolves. */
  async setHub(url: string, record: HubRecord | undefined): Promise<void> {
    const next = record ? { ...this.hubs, [url]: record } : withoutKey(this.hubs, url);
    this.hubs = next;
    if (this.backend) await this.backend.setHub(url, record);
    else await this.persist();
  }

  /**
   * Make the current records durable. Group commit: a write takes its snapshot when it starts
   * (after the write before it), so every change made while a write is queued rides on that one
   * write (five hubs' bundle installs at start-up cost a few writes, not one each).
   */
  private async persist(): Promise<void> {
    const file = this.file;
    if (!file) return;
    if (!this.queued) {
      const run = this.writing.then(() => {
        this.queued = undefined;
        return writeJsonAtomic(file, { version: 1 as const, hubs: this.hubs, chains: this.chains });
      });
      this.queued = run;
      this.writing = run.catch(() => undefined);
    }
    await this.queued;
  }

  async flush(): Promise<void> {
    await this.writing;
  }

  /** Close the shared backend, if any. */
  async close(): Promise<void> {
    await this.flush();
    await this.backend?.close();
  }
}

/** A copy of a record without one key. */
function withoutKey<V>(r: Readonly<Record<string, V>>, key: string): Record<string, V> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => k !== key));
}
