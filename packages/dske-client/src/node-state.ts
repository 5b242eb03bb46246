/**
 * Durable per-hub registration state of a client: for each hub base URL the hub name, the
 * negotiated auth scheme and extensions. Written atomically (tmp + fsync + rename) on change;
 * memory only when no file is given. No secrets: never key, share or PSRD bytes (see the README,
 * "Key material on disk").
 */
import { z } from "zod";
import { readJson, writeJsonAtomic } from "@dske/psrd";

export const HubRecordSchema = z.object({
  hub_name: z.string(),
  auth_scheme: z.string(),
  extensions: z.array(z.string()).default([]),
});
export type HubRecord = z.infer<typeof HubRecordSchema>;

const StateSchema = z.object({
  version: z.literal(1),
  hubs: z.record(z.string(), HubRecordSchema),
});

export class NodeState {
  private hubs: Record<string, HubRecord>;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string | undefined,
    hubs: Record<string, HubRecord>,
  ) {
    this.hubs = hubs;
  }

  static async open(file?: string): Promise<NodeState> {
    if (!file) return new NodeState(undefined, {});
    const raw = await readJson(file);
    if (raw === undefined) return new NodeState(file, {});
    const parsed = StateSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(`client state file ${file} is invalid: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    }
    return new NodeState(file, parsed.data.hubs);
  }

  hub(url: string): HubRecord | undefined {
    return this.hubs[url];
  }

  /** Set (or delete with undefined) the record of a hub; durable before the promise resolves. */
  async setHub(url: string, record: HubRecord | undefined): Promise<void> {
    const next = { ...this.hubs };
    if (record) next[url] = record;
    else delete next[url];
    this.hubs = next;
    const file = this.file;
    if (!file) return;
    const snapshot = { version: 1 as const, hubs: next };
    const run = this.writing.then(() => writeJsonAtomic(file, snapshot));
    this.writing = run.catch(() => undefined);
    await run;
  }

  async flush(): Promise<void> {
    await this.writing;
  }
}
