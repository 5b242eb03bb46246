/**
 * PeerClient: one client registered at this hub — its name, the encryptors (SAEs) it hosts, the
 * negotiated auth scheme, and its two PSRD pools as seen from the hub:
 * - `clientOwnedPool` (store owner `peer`): the client allocates from its copy for what it sends;
 *   the hub takes the named bytes (verify requests, decrypt posted shares).
 * - `hubOwnedPool` (store owner `local`): the hub allocates for what it sends (sign responses,
 *   encrypt fetched shares).
 */
import { SigningReserve, blockKeyPrefix, getScheme, type AuthSchemeName, type PeerAuth } from "@dske/auth";
import type { Pool } from "@dske/psrd";

export type WirePoolOwner = "client" | "hub";

/** Store pool names for a client. The fixed, distinct prefixes keep names of different clients apart. */
export function poolNames(clientName: string): { clientOwned: string; hubOwned: string } {
  return { clientOwned: `client-owned.${clientName}`, hubOwned: `hub-owned.${clientName}` };
}

/** Response signing pads a hub keeps consumed ahead per client (one commit serves this many responses). */
const RESPONSE_PADS_AHEAD = 8;

export class PeerClient {
  private encryptors: Set<string>;
  readonly peerAuth: PeerAuth;
  /** The hub-owned pool as the response signer sees it: with a small reserve of signing pads. */
  readonly signing: SigningReserve;

  constructor(
    readonly name: string,
    encryptorNames: readonly string[],
    readonly authScheme: AuthSchemeName,
    readonly clientOwnedPool: Pool,
    readonly hubOwnedPool: Pool,
    readonly registeredAt: number,
    /** Whether the client negotiated the `ack` extension (acknowledged share release). */
    public ack = false,
  ) {
    this.encryptors = new Set(encryptorNames);
    this.signing = new SigningReserve(hubOwnedPool, RESPONSE_PADS_AHEAD);
    this.peerAuth = { scheme: authScheme, localPool: this.signing, peerPool: clientOwnedPool };
  }

  /**
   * Make sure response signing pads are ready: when at most one is left, consume up to
   * RESPONSE_PADS_AHEAD now, alongside another consumption of this request (one group-commit
   * round for all), so the next responses' signers need no commit of their own. At most
   * RESPONSE_PADS_AHEAD pads (16 bytes each under gf128) are lost if the hub stops.
   */
  prepareResponseSignature(): void {
    this.signing.replenish(getScheme(this.authScheme).allocationLength, 1, RESPONSE_PADS_AHEAD, "prealloc sign response");
  }

  get encryptorNames(): string[] {
    return [...this.encryptors];
  }

  setEncryptors(names: readonly string[]): void {
    this.encryptors = new Set(names);
  }

  hosts(saeId: string): boolean {
    return this.encryptors.has(saeId);
  }

  sameEncryptors(names: readonly string[]): boolean {
    const other = new Set(names);
    if (other.size !== this.encryptors.size) return false;
    for (const n of other) if (!this.encryptors.has(n)) return false;
    return true;
  }

  /** Bytes each new block reserves as its MAC key prefix under this client's scheme. */
  get keyPrefix(): number {
    return blockKeyPrefix(this.authScheme);
  }

  pool(owner: WirePoolOwner): Pool {
    return owner === "client" ? this.clientOwnedPool : this.hubOwnedPool;
  }
}
