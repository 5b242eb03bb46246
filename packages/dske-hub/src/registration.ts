/**
 * Registry: the clients registered at this hub (draft §11.1) and the rules of who may be one.
 *
 * - Registration: a client registers with its encryptors (SAE IDs) and an auth scheme, negotiated
 *   here; an SAE ID can be hosted by one client only (else a client could claim another's keys).
 *   Each client has two PSRD pools in the hub's PsrdStore (peer-client.ts). Registering again
 *   with the same scheme updates the encryptors and extensions; unregistering zeroes and deletes
 *   the client's pools and the shares it posted.
 * - Acceptance policy (`acceptClients`) and caps: clients at once, bytes and blocks per pool
 *   (staged blocks included).
 * - Registrations are journaled (`reg` / `unreg` records in the hub state, hub-state.ts).
 * - One registration or bundle issuance at a time (`exclusive`): they change the client set.
 */
import { z } from "zod";
import type { AuthSchemeName, PeerAuth } from "@dske/auth";
import type { PsrdStore } from "@dske/psrd";
import { ACK_EXTENSION, AUTH_SCHEMES, BATCH_EXTENSION, type ParsedRegistrationRequest, type RegistrationResponse } from "@dske/protocol";
import type { BundleIssuer } from "./bundle-issuer.js";
import type { HubContext } from "./context.js";
import { HubError } from "./errors.js";
import type { HubState } from "./hub-state.js";
import type { ReferenceClients } from "./reference-clients.js";
import { PeerClient, poolNames, type WirePoolOwner } from "./peer-client.js";
import type { ShareStore } from "./share-store.js";

export const RegistrationRecordSchema = z.discriminatedUnion("t", [
  z.object({
    t: z.literal("reg"),
    c: z.string(),
    en: z.array(z.string()),
    a: z.enum(AUTH_SCHEMES),
    at: z.number(),
    /** Negotiated per-client extensions (absent: none). */
    x: z.array(z.string()).optional(),
  }),
  z.object({ t: z.literal("unreg"), c: z.string() }),
]);
export type RegistrationRecord = z.infer<typeof RegistrationRecordSchema>;

export interface RegistryLimits {
  readonly authSchemes: readonly AuthSchemeName[];
  readonly acceptClients: ReadonlySet<string> | undefined;
  readonly shareTimeoutSecs: number;
  readonly maxClients: number;
  readonly maxPoolBytes: number;
  readonly maxPoolBlocks: number;
}

export class Registry {
  private readonly clients = new Map<string, PeerClient>();
  /** SAE ID → name of the client hosting it. */
  private readonly saeHosts = new Map<string, string>();
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: HubContext,
    private readonly deps: { store: PsrdStore; issuer: BundleIssuer; shares: ShareStore; state: HubState },
    readonly limits: RegistryLimits,
    /** Reference-client mode (reference-clients.ts), if configured. */
    readonly reference?: ReferenceClients,
  ) {}

  /** Whether this client is served as a reference (dske-python) client. */
  isReference(clientName: string): boolean {
    return this.reference?.has(clientName) ?? false;
  }

  /** Choose the auth scheme for a registration (rules: README, "Wire behaviour at the hub"). */
  negotiate(proposed: string | undefined): AuthSchemeName {
    const schemes = this.limits.authSchemes;
    if (proposed !== undefined && (schemes as readonly string[]).includes(proposed)) {
      return proposed as AuthSchemeName;
    }
    if (schemes.includes("hmac-sha256")) return "hmac-sha256";
    throw new HubError(
      "bad_request",
      proposed === undefined
        ? `this hub requires an auth_scheme; it supports: ${schemes.join(", ")}`
        : `auth_scheme "${proposed}" is not supported by this hub; it supports: ${schemes.join(", ")}`,
      [{ field: "auth_scheme", supported: [...schemes] }],
    );
  }

  /**
   * Register (idempotent: same client, same scheme → updates its encryptors). A reference client
   * (reference-client mode) starts afresh instead (`registerReference`). `source`: the caller's
   * address, for the log.
   */
  register(request: ParsedRegistrationRequest, source?: string): Promise<RegistrationResponse> {
    return this.exclusive(async () => {
      this.ctx.assertOpen();
      this.assertAccepted(request.client_name);
      const scheme = this.isReference(request.client_name) ? "hmac-sha256" : this.negotiate(request.auth_scheme);
      const encryptors = [...new Set(request.encryptor_names)];
      const conflicts = encryptors.filter((e) => {
        const host = this.saeHosts.get(e);
        return host !== undefined && host !== request.client_name;
      });
      if (conflicts.length > 0) {
        throw new HubError(
          "conflict",
          `encryptor(s) ${conflicts.map((c) => JSON.stringify(c)).join(", ")} already registered by another client`,
          conflicts.map((c) => ({ field: "encryptor_names", encryptor: c, client_name: this.saeHosts.get(c) })),
        );
      }
      if (this.isReference(request.client_name)) return this.registerReference(request.client_name, encryptors, source);
      const ack = request.extensions?.includes(ACK_EXTENSION) ?? false;
      const x = ack ? [ACK_EXTENSION] : undefined;
      const existing = this.clients.get(request.client_name);
      const hasPsrd = existing !== undefined && (existing.clientOwnedPool.stats().size > 0 || existing.hubOwnedPool.stats().size > 0);
      if (existing) {
        if (existing.authScheme !== scheme) {
          throw new HubError(
            "conflict",
            `client ${request.client_name} is registered with auth scheme ${existing.authScheme}; unregister (DELETE) first to switch to ${scheme}`,
            [{ field: "auth_scheme", registered: existing.authScheme, requested: scheme }],
          );
        }
        if (!existing.sameEncryptors(encryptors) || existing.ack !== ack) {
          await this.deps.state.appendDurably([{ t: "reg", c: existing.name, en: encryptors, a: scheme, at: existing.registeredAt, x }]);
          for (const e of existing.encryptorNames) this.saeHosts.delete(e);
          existing.setEncryptors(encryptors);
          for (const e of encryptors) this.saeHosts.set(e, existing.name);
          existing.ack = ack;
        }
      } else {
        this.assertRoomForClient();
        await this.create(request.client_name, encryptors, scheme, ack);
        this.ctx.logger.info("client registered", { client: request.client_name, scheme });
      }
      return {
        hub_name: this.ctx.name,
        auth_scheme: scheme,
        extensions: ack ? [BATCH_EXTENSION, ACK_EXTENSION] : [BATCH_EXTENSION],
        share_timeout_secs: this.limits.shareTimeoutSecs,
        has_psrd: hasPsrd,
      };
    });
  }

  /**
   * (Re-)register a reference client, as the reference hub does: fresh pools every time (it keeps
   * its PSRD in memory and registers again after a restart). The old registration goes through the
   * unregistration path (journaled; its pools, staged blocks and chain zeroed and deleted; pools a
   * crash left behind too), but the shares it posted stay: unbound ones are for whoever knows the
   * key ID anyway, and a restart must not lose keys in flight. Scheme hmac-sha256, no extensions.
   * The caller checked the acceptance policy and SAE conflicts, and holds the lock.
   */
  private async registerReference(
    clientName: string,
    encryptors: readonly string[],
    source: string | undefined,
  ): Promise<RegistrationResponse> {
    if (!this.clients.has(clientName)) this.assertRoomForClient();
    await this.unregisterLocked(clientName, { keepPostedShares: true });
    await this.destroyPools(clientName);
    await this.create(clientName, encryptors, "hmac-sha256", false);
    this.ctx.logger.info("reference client registered with fresh pools (no proof of identity)", {
      client: clientName,
      scheme: "hmac-sha256",
      ...(source ? { source } : {}),
    });
    return {
      hub_name: this.ctx.name,
      auth_scheme: "hmac-sha256",
      extensions: [BATCH_EXTENSION],
      share_timeout_secs: this.limits.shareTimeoutSecs,
      has_psrd: false,
    };
  }

  /**
   * A new client: open its pools, journal its registration, add it. The caller checked the
   * acceptance policy and the caps, and holds the lock.
   */
  async create(clientName: string, encryptors: readonly string[], scheme: AuthSchemeName, ack: boolean): Promise<PeerClient> {
    const [clientOwned, hubOwned] = await this.openPools(clientName);
    const at = this.ctx.now();
    await this.deps.state.appendDurably([
      { t: "reg", c: clientName, en: [...encryptors], a: scheme, at, x: ack ? [ACK_EXTENSION] : undefined },
    ]);
    const client = new PeerClient(clientName, encryptors, scheme, clientOwned, hubOwned, at, ack);
    this.add(client);
    return client;
  }

  /**
   * Unregister now (journaled; the client can no longer sign or be served), but zero and delete
   * its pools only when `deletePools` is called: an answer signed for the client (its own signed
   * unregistration) still needs the hub-owned pool. Call `deletePools` after the answer is sent.
   */
  unregisterDeferred(clientName: string): Promise<{ unregistered: boolean; deletePools: () => Promise<void> }> {
    return this.exclusive(async () => {
      this.ctx.assertOpen();
      return this.unregisterLocked(clientName);
    });
  }

  /** `unregisterDeferred` for a caller that holds the lock. */
  private async unregisterLocked(
    clientName: string,
    options: { keepPostedShares?: boolean } = {},
  ): Promise<{ unregistered: boolean; deletePools: () => Promise<void> }> {
    const { shares, state, issuer } = this.deps;
    const deletePools = async () => {
      if (this.clients.has(clientName)) return; // registered again meanwhile: its pools are in use
      await this.destroyPools(clientName);
    };
    const client = this.clients.get(clientName);
    if (!client) return { unregistered: false, deletePools: async () => {} };
    this.clients.delete(clientName);
    for (const e of client.encryptorNames) if (this.saeHosts.get(e) === clientName) this.saeHosts.delete(e);
    if (options.keepPostedShares !== true) shares.deleteByMaster(clientName);
    await state.appendDurably([{ t: "unreg", c: clientName }]);
    issuer.dropClient(clientName);
    this.ctx.logger.info("client unregistered", { client: clientName });
    state.maybeCompact();
    return { unregistered: true, deletePools };
  }

  /** Zero and delete the client's two pools, its staged blocks and its bundle chain (no-op for what is absent). */
  private async destroyPools(clientName: string): Promise<void> {
    const names = poolNames(clientName);
    await this.deps.store.deletePool(names.clientOwned);
    await this.deps.store.deletePool(names.hubOwned);
    await this.deps.issuer.forget(clientName);
  }

  /** Re-open the clients of the journal's last `reg` records (Hub.open). */
  async restore(regs: Iterable<Extract<RegistrationRecord, { t: "reg" }>>): Promise<void> {
    for (const reg of regs) {
      const [clientOwned, hubOwned] = await this.openPools(reg.c);
      this.add(new PeerClient(reg.c, reg.en, reg.a, clientOwned, hubOwned, reg.at, reg.x?.includes(ACK_EXTENSION) ?? false));
    }
  }

  /**
   * Apply a registration record another replica wrote (shared state, shared-state.ts): open the
   * pools of a new client, update one that registered again, drop one that unregistered (its
   * shares and pools are that replica's to delete). The caller holds the lock.
   */
  async applyShared(rec: RegistrationRecord): Promise<void> {
    const existing = this.clients.get(rec.c);
    if (rec.t === "reg" && existing && existing.authScheme === rec.a) {
      for (const e of existing.encryptorNames) this.saeHosts.delete(e);
      existing.setEncryptors(rec.en);
      for (const e of rec.en) this.saeHosts.set(e, existing.name);
      existing.ack = rec.x?.includes(ACK_EXTENSION) ?? false;
      return;
    }
    if (existing) {
      this.clients.delete(rec.c);
      for (const e of existing.encryptorNames) if (this.saeHosts.get(e) === rec.c) this.saeHosts.delete(e);
      for (const s of this.deps.shares.list())
        if (s.masterClientName === rec.c) this.deps.shares.applyRecord({ t: "del", m: rec.c, k: s.keyId });
      this.deps.issuer.dropClient(rec.c);
    }
    if (rec.t === "reg") await this.restore([rec]);
  }

  /** The registered client, or undefined. */
  get(name: string): PeerClient | undefined {
    return this.clients.get(name);
  }

  /** Name of the registered client hosting this SAE, or undefined. */
  hostOf(saeId: string): string | undefined {
    return this.saeHosts.get(saeId);
  }

  list(): PeerClient[] {
    return [...this.clients.values()];
  }

  /** Pools of a registered client for the signature middleware (undefined → 401). */
  peerAuth(clientName: unknown): PeerAuth | undefined {
    if (typeof clientName !== "string") return undefined;
    return this.clients.get(clientName)?.peerAuth;
  }

  require(name: string): PeerClient {
    const client = this.clients.get(name);
    if (!client) {
      throw new HubError("not_found", `client ${name} is not registered at hub ${this.ctx.name}`, [{ field: "client_name" }]);
    }
    return client;
  }

  /** Whether a client name is in this hub's acceptance policy. */
  accepts(clientName: string): boolean {
    return this.limits.acceptClients === undefined || this.limits.acceptClients.has(clientName);
  }

  assertAccepted(clientName: string): void {
    if (!this.accepts(clientName)) {
      throw new HubError("forbidden", `client ${clientName} is not in the acceptance policy of hub ${this.ctx.name}`, [
        { field: "client_name", client_name: clientName },
      ]);
    }
  }

  assertRoomForClient(): void {
    const max = this.limits.maxClients;
    if (this.clients.size >= max) {
      throw new HubError("conflict", `hub ${this.ctx.name} already has its maximum of ${max} registered clients`, [
        { field: "client_name", max_clients: max },
      ]);
    }
  }

  /** Caps per client and pool: available + staged bytes, and live + staged blocks of that pool. */
  assertPoolRoom(client: PeerClient, owner: WirePoolOwner, bytes: number, blocks: number): void {
    const st = client.pool(owner).stats();
    const staged = this.deps.issuer.stagedBytes(client.name);
    this.assertRoomIn(
      client.name,
      owner,
      {
        available: st.available + (owner === "client" ? staged.client : staged.hub),
        blocks: st.blocks + (owner === "client" ? staged.clientBlocks : staged.hubBlocks),
      },
      bytes,
      blocks,
    );
  }

  assertRoomIn(clientName: string, owner: WirePoolOwner, now: { available: number; blocks: number }, bytes: number, blocks: number): void {
    if (bytes === 0) return;
    const { maxPoolBytes, maxPoolBlocks } = this.limits;
    const have = now.available;
    if (have + bytes > maxPoolBytes) {
      throw new HubError(
        "conflict",
        `the ${owner}-owned pool of ${clientName} would hold ${have + bytes} bytes, above this hub's cap of ${maxPoolBytes} (max_pool_bytes); use PSRD first or raise the cap`,
        [{ field: `${owner}_owned_bytes`, available: have, requested: bytes, max_pool_bytes: maxPoolBytes }],
      );
    }
    if (now.blocks + blocks > maxPoolBlocks) {
      throw new HubError(
        "conflict",
        `the ${owner}-owned pool of ${clientName} would hold more than ${maxPoolBlocks} blocks (max_pool_blocks); ask for fewer, larger blocks or raise the cap`,
        [{ field: `${owner}_owned_bytes`, blocks: now.blocks, max_pool_blocks: maxPoolBlocks }],
      );
    }
  }

  /** The registrations as journal records (compaction snapshot). */
  snapshotRecords(): RegistrationRecord[] {
    return this.list().map((c) => ({
      t: "reg",
      c: c.name,
      en: c.encryptorNames,
      a: c.authScheme,
      at: c.registeredAt,
      ...(c.ack ? { x: [ACK_EXTENSION] } : {}),
    }));
  }

  /** Run `fn` after every earlier registration / issuance settled. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  /** Resolves once the registrations / issuances queued so far settled. */
  settled(): Promise<void> {
    return this.lock.then(
      () => undefined,
      () => undefined,
    );
  }

  private openPools(clientName: string) {
    const names = poolNames(clientName);
    return Promise.all([this.deps.store.openPool(names.clientOwned, "peer"), this.deps.store.openPool(names.hubOwned, "local")]);
  }

  private add(client: PeerClient): void {
    this.clients.set(client.name, client);
    for (const e of client.encryptorNames) this.saeHosts.set(e, client.name);
  }
}
