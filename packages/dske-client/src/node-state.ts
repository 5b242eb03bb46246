/**
 * Durable per-hub state of a client:
 * - registration, per hub base URL: the hub name, the negotiated auth scheme and extensions;
 * - PSRD bundle chain, per hub name: the last installed bundle's seq, the chain key that
 *   authenticates the next bundle (one-time, replaced at every install), the auth scheme the
 *   bundles were issued for, the enrollment secret (network delivery / plain-mode credential) and
 *   hub-owned blocks not confirmed to the hub yet.
 * Written atomically (tmp + fsync + rename) on change; memory only when no file is given.
 * Never key, share or PSRD bytes. It does hold two bundle secrets: the chain key (it only
 * authenticates the next bundle, and is replaced by the install of that bundle) and the
 * enrollment secret (a credential for optional network delivery); see the README, "Key material on disk".
 */
import { z } from "zod";
import { readJson, writeJsonAtomic } from "@dske/psrd";

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

  private constructor(
    private readonly file: string | undefined,
    hubs: Record<string, HubRecord>,
    chains: Record<string, ChainRecord> = {},
  ) {
    this.hubs = hubs;
    this.chains = chains;
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
    await this.persist();
  }

  hub(url: string): HubRecord | undefined {
    return this.hubs[url];
  }

  /** Set (or delete with undefined) the record of a hub; durable before the promise resolves. */
  async setHub(url: string, record: HubRecord | undefined): Promise<void> {
    const next = record ? { ...this.hubs, [url]: record } : withoutKey(this.hubs, url);
    this.hubs = next;
    await this.persist();
  }

  private async persist(): Promise<void> {
    const file = this.file;
    if (!file) return;
    const snapshot = { version: 1 as const, hubs: this.hubs, chains: this.chains };
    const run = this.writing.then(() => writeJsonAtomic(file, snapshot));
    this.writing = run.catch(() => undefined);
    await run;
  }

  async flush(): Promise<void> {
    await this.writing;
  }
}

/** A copy of a record without one key. */
function withoutKey<V>(r: Readonly<Record<string, V>>, key: string): Record<string, V> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => k !== key));
}
