/**
 * Signed in-band calls to one hub. Each costs PSRD on both sides: the request MAC from the
 * client-owned pool, the response MAC (and the pads the hub names, if it names some) from the hub-owned pool. A
 * call makes sure both pools can pay for it, maps errors to HubFailure, and reacts to 401 and
 * network failures (register again; never to a verified answer with an unexpected body) and to
 * 503 (refill the hub-owned pool). The response signature's PSRD commit of a share message is
 * journaled without waiting for its fdatasync (`background`, `takeAfter`; README "Durability").
 */
import { HubApiError, type allocationFromWire } from "@dske/protocol";
import { backoffDelay } from "./backoff.js";
import { sleep, type HubLink } from "./hub-link.js";
import { isConnectFailure } from "./hub-probe.js";
import type { Replenishment } from "./replenishment.js";

export class SignedCalls {
  constructor(
    private readonly d: {
      link: HubLink;
      psrd: Replenishment;
      /** PSRD block size: a 503 tops the hub-owned pool up by the call's cost plus one block. */
      blockSize: number;
      reregister: (reason: string) => void;
      /** Retries of a call that is safe to send again (HubLinkOptions.callRetries and backoff). */
      retry?: { retries?: number; initialMs?: number; maxMs?: number };
    },
  ) {}

  /**
   * Make a signed call that may use `peerBytes` of the hub-owned pool. A call that never reached
   * the hub (connection refused or unreachable; not a connect timeout) is sent again, signed afresh, up to `retry.retries` times with
   * backoff and full jitter; a `resendable` one (the hub gives the same answer twice: a fetch
   * from a hub that keeps released shares until acknowledged, a metadata query, acks) also after
   * its connection was lost. Never after a request timeout (see HubLinkOptions.callRetries).
   */
  async call<T>(peerBytes: number, call: () => Promise<T>, resendable = false): Promise<T> {
    const retries = this.d.retry?.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce(peerBytes, call, (err) => attempt < retries && !this.d.link.stopped && retrySafe(err, resendable));
      } catch (err) {
        if (!(err instanceof RetryableFailure)) throw err;
      }
      await sleep(backoffDelay(attempt, this.d.retry?.initialMs ?? 50, this.d.retry?.maxMs ?? 1000), this.d.link.abort.signal);
    }
  }

  private async callOnce<T>(peerBytes: number, call: () => Promise<T>, retryable: (err: unknown) => boolean): Promise<T> {
    const { link, psrd } = this.d;
    await psrd.ensure("local", link.messageCost);
    await psrd.ensure("peer", peerBytes);
    psrd.peerInFlight += peerBytes;
    try {
      const res = await call();
      link.noteOk();
      return res;
    } catch (err) {
      if (retryable(err)) throw new RetryableFailure();
      const failure = link.failure(err, "request failed");
      // 401: the hub does not know us (no longer); status 0: down, timed out, or a bad response
      // signature. Either way: register again in the background (which also detects a hub that
      // lost its state); until then this hub is skipped instead of burning PSRD on it. Never for a
      // verified response whose body was merely unexpected (HubLink.suggestsReregistration).
      // A reference hub that lost its state says so in an unsigned 400 (HubLink.shouldReregister).
      if (link.shouldReregister(err, failure.status)) this.d.reregister(failure.reason);
      // 503: our view of the hub-owned pool may lag the hub's (lost responses): top it up.
      if (failure.status === 503) psrd.topUpPeer(peerBytes + this.d.blockSize);
      throw failure;
    } finally {
      psrd.peerInFlight -= peerBytes;
      psrd.maybeReplenishBoth();
    }
  }

  /** The response signature's (deferred) PSRD commit must be durable before its message is used. */
  async settleVerified(verified: Promise<void>): Promise<void> {
    try {
      await verified;
    } catch (err) {
      throw this.d.link.failure(err, "could not commit the response signature's PSRD");
    }
  }

  /**
   * Options for a call whose verified response needs no durable commit before it is used (a
   * response cannot be replayed: its signature binds our request's tag, README "Durability"):
   * the commit of the response signature's PSRD is journaled in the background.
   */
  background(): { onVerified: (committed: Promise<void>) => void } {
    return { onVerified: (committed) => this.d.psrd.background(committed, "commit of a response signature") };
  }

  /**
   * Take the pads named in a verified response; its signature commit (deferred) joins the same
   * journal batch. Neither is awaited (Replenishment.takeFromResponse): the pads are held at once,
   * so they are used once, and the journal records them in this turn.
   */
  async takeAfter(verified: Promise<void>, wire: Parameters<typeof allocationFromWire>[0], purpose: string): Promise<Uint8Array> {
    this.d.psrd.background(verified, "commit of a response signature");
    return this.d.psrd.takeFromResponse(wire, purpose);
  }
}

/** One attempt failed in a way that is safe to retry (SignedCalls.call). */
class RetryableFailure extends Error {}

/**
 * Safe to send again: the connection was refused or unreachable (the hub never saw the request), or
 * for a `resendable` call the connection was lost before an answer. Never a timeout, an HTTP
 * status or a bad signature.
 */
function retrySafe(err: unknown, resendable: boolean): boolean {
  if (!(err instanceof HubApiError) || err.status !== 0 || err.code !== "network") return false;
  // Not after a connect timeout: TCP already resent its SYN within it, and a blackholed hub would
  // hold the call for (1 + retries) connect timeouts.
  if (/connect timed out/.test(err.message)) return false;
  return isConnectFailure(err.message) || (resendable && /ECONNRESET|EPIPE|socket hang up/.test(err.message));
}
