/**
 * PsrdDelivery: how PSRD reaches a client's two pools at this hub (draft §10), on top of
 * bundle-issuer.ts (bundle chains, staging, outbox).
 *
 * - Bundles (default): the operator or the local distributor has the hub issue a sealed bundle
 *   for a client; the first one registers a client of the acceptance policy (with this hub's
 *   preferred scheme). Every cap is checked before anything is created.
 * - Network (`psrdDelivery: "network"` only): a fresh block for the authenticated client itself,
 *   durable at the hub before it is returned, staged until the client confirms it.
 * - Confirmation: the client confirms blocks in band (signed); only then does the hub use them.
 * - Reference clients (reference-client mode only): `GET psrd` without proof from the listed
 *   addresses, the block usable at once (the reference never confirms).
 */
import { randomUUID } from "node:crypto";
import { blockKeyPrefix, type AuthSchemeName } from "@dske/auth";
import { BundleIssuer, MAX_BUNDLE_BLOCK_BYTES, type IssuedBundle } from "./bundle-issuer.js";
import type { HubContext } from "./context.js";
import { HubError, fromPsrdError } from "./errors.js";
import type { WirePoolOwner } from "./peer-client.js";
import type { Registry } from "./registration.js";

export interface PsrdDeliveryLimits {
  readonly psrdDelivery: "bundle" | "network";
  readonly maxPsrdBlockBytes: number;
}

export class PsrdDelivery {
  constructor(
    private readonly ctx: HubContext,
    private readonly registry: Registry,
    private readonly issuer: BundleIssuer,
    readonly limits: PsrdDeliveryLimits,
    private readonly random: (size: number) => Uint8Array,
  ) {}

  /**
   * Reference-client mode (the router checked that the caller may act for this reference client):
   * a fresh block, added to the client's pool at once (a reference client never confirms), durable
   * at the hub before this resolves. Whether the hub delivers PSRD over the network otherwise
   * (`psrdDelivery`) does not matter: naming the client a reference client is the opt-in. The
   * returned `data` is the caller's to send and then zero.
   */
  createReferenceBlock(clientName: string, poolOwner: WirePoolOwner, size: number): Promise<{ blockUuid: string; data: Uint8Array }> {
    // Under the registration lock: a concurrent re-registration (fresh pools) cannot take the pool away midway.
    return this.registry.exclusive(async () => {
      this.ctx.assertOpen();
      if (!this.registry.isReference(clientName)) {
        throw new HubError("forbidden", `client ${clientName} is not a reference client of hub ${this.ctx.name}`, [
          { field: "client_name" },
        ]);
      }
      const client = this.registry.require(clientName);
      this.checkBlockSize(size, client.keyPrefix, client.authScheme);
      this.registry.assertPoolRoom(client, poolOwner, size - client.keyPrefix, 1);
      const data = this.random(size);
      if (data.length !== size) throw new HubError("unavailable", "random source returned the wrong size");
      const blockUuid = randomUUID();
      try {
        await client.pool(poolOwner).addBlock(blockUuid, Uint8Array.from(data), { keyPrefix: client.keyPrefix });
      } catch (err) {
        data.fill(0);
        throw fromPsrdError(err, `adding a PSRD block for ${clientName}`);
      }
      this.ctx.logger.info("PSRD block delivered to reference client", { client: clientName, owner: poolOwner, bytes: size });
      return { blockUuid, data };
    });
  }

  private checkBlockSize(size: number, keyPrefix: number, scheme: AuthSchemeName): void {
    const max = this.limits.maxPsrdBlockBytes;
    if (!Number.isInteger(size) || size < 1 || size > max) {
      throw new HubError("bad_request", `size must be an integer from 1 to ${max}`, [{ field: "size", max }]);
    }
    if (size <= keyPrefix) {
      throw new HubError("bad_request", `size must exceed the ${keyPrefix}-byte MAC key prefix of auth scheme ${scheme}`, [
        { field: "size", min: keyPrefix + 1 },
      ]);
    }
  }

  /**
   * Network PSRD delivery (the router authenticates the client first): a fresh block for one of
   * the client's pools, staged until the client confirms it in band (`confirm`). The hub's copy is
   * durable before this resolves; the returned `data` is the caller's to send and then zero.
   */
  async createBlock(clientName: string, poolOwner: WirePoolOwner, size: number): Promise<{ blockUuid: string; data: Uint8Array }> {
    this.ctx.assertOpen();
    const { psrdDelivery } = this.limits;
    if (psrdDelivery !== "network") {
      throw new HubError(
        "forbidden",
        `hub ${this.ctx.name} delivers PSRD only in bundles carried out of band (psrd_delivery: bundle); ` +
          `the operator issues them with 'dske-cli psrd issue' (or the local distributor does)`,
        [{ field: "psrd_delivery", value: psrdDelivery }],
      );
    }
    const client = this.registry.require(clientName);
    const keyPrefix = client.keyPrefix;
    this.checkBlockSize(size, keyPrefix, client.authScheme);
    this.registry.assertPoolRoom(client, poolOwner, size - keyPrefix, 1);
    return this.issuer.stageNetworkBlock(clientName, poolOwner, size, keyPrefix);
  }

  /**
   * Issue a bundle (usable bytes per pool, MAC key prefixes not counted): into the outbox, or as
   * the sealed bytes when `asBytes` (the caller's to hand over out of band and then zero).
   */
  issue(
    clientName: string,
    clientOwnedBytes: number,
    hubOwnedBytes: number,
    asBytes: boolean,
    authScheme: AuthSchemeName | undefined,
  ): Promise<IssuedBundle & { hubName: string; clientName: string; bytes?: Uint8Array }> {
    const registry = this.registry;
    const { authSchemes, maxPoolBytes } = registry.limits;
    return registry.exclusive(async () => {
      if (authScheme !== undefined && !authSchemes.includes(authScheme)) {
        throw new HubError(
          "bad_request",
          `auth_scheme ${authScheme} is not allowed at hub ${this.ctx.name}; it allows ${authSchemes.join(", ")}`,
          [{ field: "auth_scheme", supported: [...authSchemes] }],
        );
      }
      this.ctx.assertOpen();
      registry.assertAccepted(clientName);
      if (registry.isReference(clientName)) {
        throw new HubError(
          "conflict",
          `client ${clientName} is a reference client of hub ${this.ctx.name}: it gets its PSRD with GET psrd, not in bundles`,
          [{ field: "client_name", client_name: clientName }],
        );
      }
      for (const [field, v] of [
        ["client_owned_bytes", clientOwnedBytes],
        ["hub_owned_bytes", hubOwnedBytes],
      ] as const) {
        if (!Number.isInteger(v) || v < 0 || v > maxPoolBytes) {
          throw new HubError("bad_request", `${field} must be an integer from 0 to ${maxPoolBytes} (this hub's max_pool_bytes)`, [
            { field, max_pool_bytes: maxPoolBytes },
          ]);
        }
      }
      if (clientOwnedBytes + hubOwnedBytes === 0) {
        throw new HubError("bad_request", "a bundle needs client_owned_bytes or hub_owned_bytes above 0", [
          { field: "client_owned_bytes" },
        ]);
      }
      let client = registry.get(clientName);
      const scheme = client?.authScheme ?? authScheme ?? authSchemes[0];
      const prefix = blockKeyPrefix(scheme);
      const blocksOf = (bytes: number) => Math.ceil(bytes / (MAX_BUNDLE_BLOCK_BYTES - prefix));
      if (client) {
        registry.assertPoolRoom(client, "client", clientOwnedBytes, blocksOf(clientOwnedBytes));
        registry.assertPoolRoom(client, "hub", hubOwnedBytes, blocksOf(hubOwnedBytes));
      } else {
        // A new client: every cap is checked before anything is registered or created.
        registry.assertRoomForClient();
        for (const [owner, bytes] of [
          ["client", clientOwnedBytes],
          ["hub", hubOwnedBytes],
        ] as const) {
          registry.assertRoomIn(clientName, owner, { available: 0, blocks: 0 }, bytes, blocksOf(bytes));
        }
        client = await registry.create(clientName, [], scheme, false);
        this.ctx.logger.info("client provisioned", { client: clientName, scheme });
      }
      const issued = await this.issuer.issue({
        clientName,
        authScheme: client.authScheme,
        keyPrefix: client.keyPrefix,
        clientOwnedBytes,
        hubOwnedBytes,
        clientOwnedPool: client.clientOwnedPool,
        asBytes,
      });
      this.ctx.logger.info("PSRD bundle issued", {
        client: clientName,
        seq: issued.seq,
        client_owned_bytes: clientOwnedBytes,
        hub_owned_bytes: hubOwnedBytes,
      });
      return { ...issued, hubName: this.ctx.name, clientName };
    });
  }

  /** The client confirmed these blocks in a signed message: the hub starts using them. */
  async confirm(clientName: string, blockUuids: readonly string[]): Promise<number> {
    this.ctx.assertOpen();
    const client = this.registry.require(clientName);
    return this.issuer.confirm(clientName, blockUuids, { client: client.clientOwnedPool, hub: client.hubOwnedPool });
  }
}
