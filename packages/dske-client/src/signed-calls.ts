/**
 * Signed in-band calls to one hub. Each costs PSRD on both sides: the request MAC from the
 * client-owned pool, the response MAC (and the pads the hub names, if it names some) from the hub-owned pool. A
 * call makes sure both pools can pay for it, maps errors to HubFailure, and reacts to 401 and
 * network failures (register again; never to a verified answer with an unexpected body) and to
 * 503 (refill the hub-owned pool). The response signature's PSRD commit of a share message is
 * journaled without waiting for its fdatasync (`background`, `takeAfter`; README "Durability").
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
