/**
 * Signed in-band calls to one hub. Each costs PSRD on both sides: the request MAC from the
 * client-owned pool, the response MAC (and the pads the hub names, if it names some) from the hub-owned pool. A
 * call makes sure both pools can pay for it, maps errors to HubFailure, and reacts to 401 and
 * network failures (register again; never to a verified answer with an unexpected body) and to
 * 503 (refill the hub-owned pool). A response whose
 * signature commit was deferred (`onVerified`) is used only once that commit is durable.
 */
import type { allocationFromWire } from "@dske/protocol";
import type { HubLink } from "./hub-link.js";
import type { Replenishment } from "./replenishment.js";

export class SignedCalls {
  constructor(
    private readonly d: {
      link: HubLink;
      psrd: Replenishment;
      /** PSRD block size: a 503 tops the hub-owned pool up by the call's cost plus one block. */
      blockSize: number;
      reregister: (reason: string) => void;
    },
  ) {}

  /** Make a signed call that may use `peerBytes` of the hub-owned pool. */
  async call<T>(peerBytes: number, call: () => Promise<T>): Promise<T> {
    const { link, psrd } = this.d;
    await psrd.ensure("local", link.messageCost);
    await psrd.ensure("peer", peerBytes);
    psrd.peerInFlight += peerBytes;
    try {
      const res = await call();
      link.noteOk();
      return res;
    } catch (err) {
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
   * Take the pads named in a verified response; its signature commit (deferred) joins the same
   * journal batch, and both are durable before the pads are returned.
   */
  async takeAfter(verified: Promise<void>, wire: Parameters<typeof allocationFromWire>[0], purpose: string): Promise<Uint8Array> {
    const taking = this.d.psrd.take(wire, purpose);
    taking.catch(() => undefined); // observed below; never an unhandled rejection
    try {
      await this.settleVerified(verified);
    } catch (err) {
      const pad = await taking.catch(() => undefined);
      pad?.fill(0);
      throw err;
    }
    return taking;
  }
}
