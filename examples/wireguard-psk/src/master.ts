/**
 * The master agent (the encryptor that starts each rotation): every interval it gets a new key
 * from its KME (`enc_keys`), hands the key's ID to the slave agent (which gets the same key from
 * its own KME and sets it), then sets the key on its own interface and, by default, forces a
 * fresh handshake under it. When the slave cannot take the key, the master keeps its current
 * key too, so both ends stay equal; the next interval tries again.
 */
import { z } from "zod";
import type { MasterOptions } from "./agent-options.js";
import { Etsi014Client } from "./etsi014.js";
import { report } from "./events.js";
import { PSK_BYTES, setPresharedKey } from "./wg.js";

const SlaveAnswerSchema = z.object({ key_ID: z.string() });

export class MasterAgent {
  private readonly kme: Etsi014Client;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private rotations = 0;

  constructor(private readonly opts: MasterOptions) {
    this.kme = new Etsi014Client(opts.kme, opts.sae);
  }

  /** Rotate now, then every interval (a rotation never overlaps the previous one). */
  start(): void {
    report({ event: "started", role: "master", interval_s: this.opts.intervalSeconds, rehandshake: this.opts.rehandshake });
    void this.loop();
  }

  /** False once stop() was called (a rotation in flight finishes, no new one starts). */
  running(): boolean {
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    report({ event: "stopped", role: "master" });
  }

  private async loop(): Promise<void> {
    try {
      await this.rotate();
    } catch (err) {
      report({ event: "error", role: "master", message: err instanceof Error ? err.message : String(err) });
    }
    if (this.running()) this.timer = setTimeout(() => void this.loop(), this.opts.intervalSeconds * 1000);
  }

  /** One rotation: new key, slave sets it, master sets it. */
  async rotate(): Promise<void> {
    const { keyId, key } = await this.kme.encKey(this.opts.peerSae, PSK_BYTES * 8);
    try {
      await this.handToSlave(keyId);
      await setPresharedKey(this.opts.iface, this.opts.peerPublicKey, key, { rehandshake: this.opts.rehandshake });
      this.rotations++;
      report({ event: "rotated", role: "master", rotation: this.rotations, key_ID: keyId });
    } finally {
      key.fill(0);
    }
  }

  private async handToSlave(keyId: string): Promise<void> {
    const url = `${this.opts.peerAgent.replace(/\/+$/, "")}/psk`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key_ID: keyId, master_SAE_ID: this.opts.sae }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Error(
        `slave agent unreachable at ${url}: ${cause ?? (err instanceof Error ? err.message : String(err))}; kept the current key`,
        { cause: err },
      );
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const msg = z.object({ message: z.string() }).safeParse(body);
      throw new Error(`slave agent refused key ${keyId}: HTTP ${res.status} ${msg.success ? msg.data.message : ""}; kept the current key`);
    }
    const ok = SlaveAnswerSchema.safeParse(body);
    if (!ok.success || ok.data.key_ID !== keyId)
      throw new Error(`slave agent gave an unexpected answer for key ${keyId}; kept the current key`);
  }
}
