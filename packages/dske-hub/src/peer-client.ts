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
  ) {
    this.encryptors = new Set(encryptorNames);
    this.signing = new SigningReserve(hubOwnedPool);
    this.peerAuth = { scheme: authScheme, localPool: this.signing, peerPool: clientOwnedPool };
  }

  /**
   * Consume the response's signing pad now, alongside another consumption of this request, so
   * both commits overlap (one group-commit round) instead of the signer's commit following.
   */
  prepareResponseSignature(): void {
    this.signing.prepare(getScheme(this.authScheme).allocationLength, "prealloc sign response");
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
