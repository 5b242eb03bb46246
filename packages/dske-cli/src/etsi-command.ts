/**
 * `dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-status|get-key|get-key-with-key-ids|get-key-pair`:
 * the reference manager's ETSI QKD 014 operations, with its output lines. Answers are printed as
 * they come and read with @dske/protocol's `Received*` schemas, so a reference KME works too: its
 * `keys` is one object instead of an array, its status fields are lower case (`source_kme_id`).
 */
import { CliError } from "./errors";
import { ReceivedKeyContainerSchema, ReceivedStatusSchema } from "@dske/protocol";
import { connectionFailure, NodeStarter, onNode } from "./down-node-hint";
import { compareKeys, EtsiCaller, type EtsiKey, type EtsiResponse } from "./etsi-caller";
import type { Output } from "./output";
import { nodePlace } from "./placement";
import type { NodeSpec, Topology } from "./topology";

export type EtsiOperation = "get-status" | "get-key" | "get-key-with-key-ids" | "get-key-pair";
export const ETSI_OPERATIONS: readonly EtsiOperation[] = ["get-status", "get-key", "get-key-with-key-ids", "get-key-pair"];

export interface EtsiCommandOptions {
  size?: number;
  number?: number;
  additionalSlaves?: string[];
  keyIds?: string[];
}

const API_NAME = {
  status: "Status",
  enc: "Get Key",
  dec: "Get Key with Key IDs",
} as const;

export class EtsiCommand {
  constructor(
    private readonly topology: Topology,
    private readonly out: Output,
    private readonly caller = new EtsiCaller(),
    private readonly starter = new NodeStarter(),
  ) {}

  /**
   * A call on `kme`, the KME of `sae`: a KME that does not answer is named with its start command.
   * A KME with replicas: as an SAE does, the next replica when one refuses the connection (the
   * call cannot have been processed there), in order; the last one's failure is reported.
   */
  private async on<T>(kme: NodeSpec, sae: string, call: (node: NodeSpec) => Promise<T>): Promise<T> {
    const replicas = kme.replicas ?? [kme];
    for (const node of replicas.slice(0, -1)) {
      try {
        return await call(node);
      } catch (err) {
        if (connectionFailure(err) !== "ECONNREFUSED")
          return onNode(node, this.starter, `KME of ${sae}`, () => Promise.reject(toError(err)));
      }
    }
    const last = replicas[replicas.length - 1];
    return onNode(last, this.starter, `KME of ${sae}`, () => call(last));
  }

  private kmeOf(sae: string, role: "master" | "slave"): NodeSpec {
    const kme = this.topology.clientOfSae(sae);
    if (kme === undefined) {
      throw new CliError(
        `unknown ${role} encryptor (SAE) '${sae}': no client in the configuration hosts it; known encryptors: ${this.topology.allEncryptors().join(", ")}`,
      );
    }
    return kme;
  }

  private announce(api: keyof typeof API_NAME, kme: NodeSpec, master: string, slave: string): void {
    this.out.line(
      `Invoke ETSI QKD ${API_NAME[api]} API on client (KME) ${kme.name} ${nodePlace(kme)} master encryptor (SAE) ${master} slave encryptor (SAE) ${slave}:`,
    );
  }

  /** Print the body; throw a CliError naming the API, KME, status and message on non-200. */
  private report(api: keyof typeof API_NAME, kme: NodeSpec, res: EtsiResponse): void {
    this.out.line(JSON.stringify(res.body, null, 2));
    if (res.status !== 200) {
      const msg =
        typeof res.body === "object" && res.body !== null && "message" in res.body
          ? String(res.body.message)
          : typeof res.body === "string" && res.body !== ""
            ? res.body
            : "(no message)";
      throw new CliError(`ETSI QKD ${API_NAME[api]} API on client (KME) ${kme.name} failed: HTTP ${res.status}: ${msg}`);
    }
  }

  private keysOf(api: keyof typeof API_NAME, kme: NodeSpec, res: EtsiResponse): EtsiKey[] {
    const parsed = ReceivedKeyContainerSchema.safeParse(res.body);
    if (!parsed.success) {
      throw new CliError(`ETSI QKD ${API_NAME[api]} API on client (KME) ${kme.name} returned no valid key container`);
    }
    return parsed.data.keys;
  }

  async run(master: string, slave: string, op: EtsiOperation, opts: EtsiCommandOptions = {}): Promise<void> {
    switch (op) {
      case "get-status": {
        const kme = this.kmeOf(master, "master");
        this.announce("status", kme, master, slave);
        const res = await this.on(kme, master, (node) => this.caller.status(node, master, slave));
        this.report("status", kme, res);
        if (!ReceivedStatusSchema.safeParse(res.body).success) {
          throw new CliError(`ETSI QKD ${API_NAME.status} API on client (KME) ${kme.name} returned no valid status`);
        }
        return;
      }
      case "get-key": {
        await this.getKey(master, slave, opts);
        return;
      }
      case "get-key-with-key-ids": {
        const ids = opts.keyIds ?? [];
        if (ids.length === 0) throw new CliError("get-key-with-key-ids needs at least one KEY_ID");
        await this.getKeyWithKeyIds(master, slave, ids);
        return;
      }
      case "get-key-pair": {
        this.kmeOf(master, "master");
        const slaves = [slave, ...(opts.additionalSlaves ?? [])];
        // Every slave's KME must answer before the master's KME draws a key that nobody could fetch.
        for (const s of slaves) {
          const kme = this.kmeOf(s, "slave");
          await this.on(kme, s, (node) => this.caller.reachable(node, s));
        }
        const masterKeys = await this.getKey(master, slave, opts);
        const ids = masterKeys.map((k) => k.key_ID);
        const problems: string[] = [];
        for (const s of slaves) {
          const slaveKeys = await this.getKeyWithKeyIds(master, s, ids);
          for (const p of compareKeys(masterKeys, slaveKeys)) problems.push(`slave ${s}: key_ID ${p.keyId}: ${p.problem}`);
        }
        if (problems.length > 0) {
          this.out.line("Key values do NOT match:");
          for (const p of problems) this.out.line(`  ${p}`);
          throw new CliError(`key values do not match (${problems.length} problem${problems.length === 1 ? "" : "s"})`);
        }
        this.out.line("Key values match");
        return;
      }
    }
  }

  private async getKey(master: string, slave: string, opts: EtsiCommandOptions): Promise<EtsiKey[]> {
    const kme = this.kmeOf(master, "master");
    this.kmeOf(slave, "slave");
    for (const s of opts.additionalSlaves ?? []) this.kmeOf(s, "slave");
    this.announce("enc", kme, master, slave);
    const res = await this.on(kme, master, (node) =>
      this.caller.getKey(node, master, slave, {
        size: opts.size,
        number: opts.number,
        additionalSlaveSaeIds: opts.additionalSlaves,
      }),
    );
    this.report("enc", kme, res);
    return this.keysOf("enc", kme, res);
  }

  private async getKeyWithKeyIds(master: string, slave: string, ids: readonly string[]): Promise<EtsiKey[]> {
    const kme = this.kmeOf(slave, "slave");
    this.announce("dec", kme, master, slave);
    const res = await this.on(kme, slave, (node) => this.caller.getKeyWithKeyIds(node, master, slave, ids));
    this.report("dec", kme, res);
    return this.keysOf("dec", kme, res);
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
