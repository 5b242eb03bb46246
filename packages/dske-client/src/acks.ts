/**
 * Acknowledgements to one hub (the hubs' `ack` extension): a hub keeps the shares it released to
 * us until we acknowledge the key (recorded as delivered, or no longer needed), so a responder
 * that dies between fetch and delivery can fetch again. Acks are batched: they ride on the next
 * fetch to this hub (share-fetches.ts), or go alone in one signed ack-only message after
 * `ackFlushMs`. A graceful stop sends them (bounded wait).
 */
import { MAX_BATCH_SHARES, type AckKeyRef } from "@dske/protocol";
import type { HubLink } from "./hub-link.js";
import type { Logger } from "./logger.js";

/** How long a graceful stop waits for the pending acknowledgements to reach a hub. */
const STOP_ACK_FLUSH_MS = 1000;
/** Released-but-unacknowledged keys remembered per hub at most this long (the hubs' share timeout is shorter). */
const UNACKED_TTL_MS = 10 * 60_000;
const ackName = (masterSae: string, keyId: string): string => `${masterSae}\u0000${keyId}`;

export class Acks {
  /** Keys this hub released to us that we have not acknowledged yet (→ time seen). */
  private readonly unacked = new Map<string, number>();
  /** Acknowledgements waiting for the next fetch (or the flush timer). */
  private readonly pending = new Map<string, AckKeyRef>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: {
      link: HubLink;
      logger: Logger;
      /** Default 1000 ms. */
      flushMs: number | undefined;
      /** Send these acknowledgements in one signed ack-only message. */
      send: (acks: AckKeyRef[]) => Promise<void>;
    },
  ) {}

  /** Acknowledgements not sent yet (diagnostics). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Acknowledge keys: the client recorded or delivered them and no longer needs this hub's
   * shares. By default only keys this hub released to us are acknowledged; `evenUnfetched`: also
   * keys we got from other hubs, so that this hub drops its share now instead of keeping it until
   * its share timeout (a hub ignores acks for shares it does not hold).
   */
  ack(masterSae: string, keyIds: readonly string[], evenUnfetched = false): void {
    for (const keyId of keyIds) {
      const name = ackName(masterSae, keyId);
      if (!this.unacked.delete(name) && !evenUnfetched) continue;
      if (this.d.link.supportsAck) this.pending.set(name, { master_sae_id: masterSae, key_id: keyId });
    }
    this.arm();
  }

  /** Remember that this hub released a share of the key to us (to acknowledge it later). */
  noteReleased(masterSae: string, keyId: string): void {
    if (!this.d.link.supportsAck) return;
    const now = Date.now();
    this.unacked.set(ackName(masterSae, keyId), now);
    if (this.unacked.size > 10_000) {
      for (const [k, at] of this.unacked) if (at < now - UNACKED_TTL_MS) this.unacked.delete(k);
    }
  }

  /** Up to one message's worth of pending acknowledgements, removed from the pending set. */
  take(): AckKeyRef[] {
    const out: AckKeyRef[] = [];
    for (const [name, ref] of this.pending) {
      if (out.length >= MAX_BATCH_SHARES) break;
      out.push(ref);
      this.pending.delete(name);
    }
    return out;
  }

  /** Acks of a failed message are kept for the next one (acks are idempotent at the hub). */
  restore(acks: readonly AckKeyRef[]): void {
    for (const a of acks) this.pending.set(ackName(a.master_sae_id, a.key_id), a);
    this.arm();
  }

  /** Send the pending acknowledgements now, in one signed ack-only message (no-op when none). */
  async flush(): Promise<void> {
    const { link } = this.d;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0 || link.stopped) return;
    if (!link.registered || !link.supportsAck) {
      this.arm(); // try again later
      return;
    }
    const acks = this.take();
    try {
      await this.d.send(acks);
    } catch (err) {
      this.restore(acks);
      throw err;
    }
  }

  private arm(): void {
    if (this.pending.size > 0 && !this.timer && !this.d.link.stopped) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch((err: unknown) =>
          this.d.logger.warn("sending acknowledgements failed; will retry", {
            hub: this.d.link.name,
            err: err instanceof Error ? err.message : String(err),
          }),
        );
      }, this.d.flushMs ?? 1000);
      this.timer.unref();
    }
  }

  /**
   * Graceful stop (before the link is marked stopped): tell the hub now that it may drop the
   * shares we acknowledged, rather than leaving them until its share timeout. Best effort,
   * bounded (a down hub must not hold us up).
   */
  async flushBeforeStop(): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, STOP_ACK_FLUSH_MS)));
    await Promise.race([this.flush().catch(() => undefined), bound]);
    clearTimeout(timer);
  }

  /** Stop the flush timer (after the link is marked stopped). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
