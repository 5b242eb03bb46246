/**
 * Reference-client mode (opt-in, `HubOptions.referenceClients`; standalone `--reference-clients`,
 * `--reference-clients-from`): the NAMED clients of the reference implementation (dske-python
 * KMEs), which can prove nothing at registration and fetch their PSRD with `GET psrd`, are served
 * with the reference's weaker rules, and only when their unauthenticated calls come from the
 * listed source addresses (default: loopback). Everybody else keeps the hub's usual rules.
 *
 * What a reference client gets (README, "Reference clients"):
 * - registration without proof of identity; each (re-)registration starts fresh pools
 *   (the old ones are zeroed and deleted), auth scheme `hmac-sha256`, no extensions;
 * - `GET psrd` without a certificate or secret; the block is usable at once (no confirmation);
 * - the reference key-share wire: `POST key-share` without SAE IDs stores an "unbound" share
 *   (released to whichever registered client names its key ID), `GET key-share` with
 *   `client_name` and `key_id` only.
 *
 * This file holds the configuration and the source-address check (no HTTP: the router passes the
 * peer address as a string).
 */
import { BlockList, isIP } from "node:net";
import { z } from "zod";
import type { AuthSchemeName } from "@dske/auth";
import { NodeNameSchema, type HubStatus } from "@dske/protocol";
import { HubError } from "./errors.js";

/** Source addresses a reference client may call from unless told otherwise: loopback only. */
export const DEFAULT_REFERENCE_SOURCES: readonly string[] = ["127.0.0.1", "::1"];

/** An IPv4 or IPv6 address (no host names, no subnets). */
export const IpAddressSchema = z.union([z.ipv4(), z.ipv6()]);

export const ReferenceClientsOptionSchema = z.object({
  names: z.array(NodeNameSchema).min(1).max(1000),
  from: z.array(IpAddressSchema).min(1).max(256).optional(),
});

export interface ReferenceClientsOption {
  /** The clients served as reference (dske-python) clients. */
  names: readonly string[];
  /** Source addresses their unauthenticated calls must come from (default 127.0.0.1 and ::1). */
  from?: readonly string[];
}

/** `::ffff:a.b.c.d` (an IPv4 peer on a dual-stack socket) → `a.b.c.d`; anything else unchanged. */
export function normalizeAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1] : address;
}

export class ReferenceClients {
  private readonly names: ReadonlySet<string>;
  private readonly sources = new BlockList();
  /** The listed source addresses, as configured (status, logs). */
  readonly from: readonly string[];

  constructor(option: ReferenceClientsOption) {
    this.names = new Set(option.names);
    this.from = [...(option.from ?? DEFAULT_REFERENCE_SOURCES)].map(normalizeAddress);
    for (const a of this.from) this.sources.addAddress(a, isIP(a) === 6 ? "ipv6" : "ipv4");
  }

  /**
   * Check the option against the rest of the hub's configuration; throws a HubError that says
   * what to change.
   */
  static validate(
    option: ReferenceClientsOption,
    authSchemes: readonly AuthSchemeName[],
    acceptClients: readonly string[] | undefined,
  ): void {
    if (!authSchemes.includes("hmac-sha256")) {
      throw new HubError(
        "bad_request",
        `reference clients (${option.names.join(", ")}) sign with hmac-sha256, which this hub does not allow: ` +
          `add it to the auth schemes (e.g. --auth-schemes gf128,hmac-sha256) or drop the reference clients`,
        [{ field: "referenceClients", auth_schemes: [...authSchemes] }],
      );
    }
    const outside = acceptClients === undefined ? [] : option.names.filter((n) => !acceptClients.includes(n));
    if (outside.length > 0) {
      throw new HubError(
        "bad_request",
        `reference client(s) ${outside.join(", ")} are not in the acceptance policy (--accept-clients): add them there too`,
        [{ field: "referenceClients", not_accepted: outside }],
      );
    }
  }

  /** Whether this client is served as a reference client. */
  has(clientName: string): boolean {
    return this.names.has(clientName);
  }

  get list(): string[] {
    return [...this.names];
  }

  /** Whether an unauthenticated call from `address` (the TCP peer) may act for reference client `clientName`. */
  allows(clientName: string, address: string | undefined): boolean {
    if (!this.names.has(clientName) || address === undefined) return false;
    const a = normalizeAddress(address);
    const family = isIP(a);
    return family !== 0 && this.sources.check(a, family === 6 ? "ipv6" : "ipv4");
  }

  /** How the status describes a reference client's enrollment. */
  get enrollment(): string {
    return `unauthenticated (reference mode, from ${this.from.join(", ")})`;
  }

  /** The hub status with the reference clients marked (`implementation`, `enrollment`). */
  annotate(status: HubStatus): HubStatus {
    return {
      ...status,
      peer_clients: status.peer_clients.map((c) =>
        this.has(c.client_name) ? { ...c, implementation: "reference", enrollment: this.enrollment } : c,
      ),
    };
  }

  /** The warning logged when a hub opens with reference clients: a constant message and its fields. */
  get warning(): { message: string; fields: { clients: string[]; sources: string[]; reason: string } } {
    return {
      message: "reference-client mode: registration and PSRD without proof of identity",
      fields: {
        clients: this.list,
        sources: [...this.from],
        reason:
          "their PSRD (GET psrd) crosses the network unauthenticated, and their key shares go to whichever registered client knows the key ID",
      },
    };
  }
}
