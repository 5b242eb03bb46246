/**
 * The hub's side of PSRD delivery (the draft's local distributor, §10): it issues PSRD for one
 * client as a sealed bundle file (see @dske/distributor) and keeps, per client,
 *
 * - the bundle chain: the sequence number of the last bundle issued and the 32-byte chain key
 *   that will authenticate the next one (one-time polynomial MAC, no computational assumption);
 * - the hash of the client's enrollment secret (first bundle; it authenticates optional network
 *   PSRD delivery and unsigned registration in plain mode);
 * - staged blocks: PSRD the client may not have yet waits in a staging pool until the client
 *   confirms it in a signed in-band message (`psrd-confirm`); only then does the hub use it:
 *   - the hub-owned blocks of a bundle: the hub allocates from its pool in block order, so a block
 *     the client has not installed yet (or never got: a failed issuance) must not enter it;
 *   - every block delivered over the network (optional `psrd_delivery: network`), both pools: a
 *     block obtained by anyone but the client is useless, since the hub never encrypts a share
 *     with it nor accepts a signature made with it.
 *   Client-owned blocks of a bundle go into the pool at once: the hub takes peer-pool bytes only
 *   where a signed message names them, and only the client (after installing) can name them.
 *   The confirmation of a client's first bundle is signed with that bundle's client-owned PSRD,
 *   and its response with the hub-owned PSRD it has just moved into use.
 *
 * State lives in the hub's journal (records below) and in the hub's PsrdStore (block bytes).
 */
import { createHash, randomBytes as nodeRandomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { CHAIN_KEY_BYTES, sealBundle, writeBundleFile, destroyBundleFile, peekBundleHeader } from "@dske/distributor";
import { PsrdError, type Pool, type PsrdStore, type Reservation } from "@dske/psrd";
import { HubError, fromPsrdError } from "./errors.js";
import type { WirePoolOwner } from "./peer-client.js";

export const ProvisionRecordSchema = z.discriminatedUnion("t", [
  /** Bundle chain of a client: last issued seq, next chain key (base64), enrollment secret hash (hex). */
  z.object({ t: z.literal("chain"), c: z.string(), s: z.int().min(1), k: z.string(), e: z.string().optional() }),
  /** A staged block (bytes in the staging pool) waiting for the client's confirmation. */
  z.object({ t: z.literal("stg"), c: z.string(), b: z.string(), o: z.enum(["client", "hub"]), kp: z.int().min(0), n: z.int().min(1) }),
  /** A staged block confirmed (moved into its pool) or dropped. */
  z.object({ t: z.literal("act"), c: z.string(), b: z.string() }),
]);
export type ProvisionRecord = z.infer<typeof ProvisionRecordSchema>;

interface Chain {
  seq: number;
  nextKey: Buffer;
  enrollmentHash?: string;
}

interface Staged {
  client: string;
  uuid: string;
  owner: WirePoolOwner;
  keyPrefix: number;
  size: number;
}

export interface IssuedBundle {
  file: string;
  seq: number;
  clientOwnedBytes: number;
  hubOwnedBytes: number;
  blocks: number;
}

/** Largest block inside a bundle; larger requests are split over several blocks. */
export const MAX_BUNDLE_BLOCK_BYTES = 4 * 1024 * 1024;

export function stagingPoolName(clientName: string): string {
  return `staged.${clientName}`;
}

export function enrollmentHash(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export class BundleIssuer {
  private readonly chains = new Map<string, Chain>();
  private readonly staged = new Map<string, Staged>();
  /** Told about a staged block whose bytes were lost (see `reserveStaged`). */
  onLostBlock?: (clientName: string, blockUuid: string, reason: string) => void;

  constructor(
    private readonly hubName: string,
    private readonly store: PsrdStore,
    private readonly outbox: string | undefined,
    private readonly append: (records: ProvisionRecord[]) => Promise<void>,
    private readonly random: (n: number) => Uint8Array = (n) => nodeRandomBytes(n),
  ) {}

  applyRecord(r: ProvisionRecord): void {
    if (r.t === "chain") {
      this.chains.get(r.c)?.nextKey.fill(0);
      this.chains.set(r.c, { seq: r.s, nextKey: Buffer.from(r.k, "base64"), enrollmentHash: r.e ?? this.chains.get(r.c)?.enrollmentHash });
    } else if (r.t === "stg") {
      this.staged.set(r.b, { client: r.c, uuid: r.b, owner: r.o, keyPrefix: r.kp, size: r.n });
    } else {
      this.staged.delete(r.b);
    }
  }

  snapshotRecords(): ProvisionRecord[] {
    const out: ProvisionRecord[] = [];
    for (const [c, ch] of this.chains) {
      out.push({ t: "chain", c, s: ch.seq, k: ch.nextKey.toString("base64"), ...(ch.enrollmentHash ? { e: ch.enrollmentHash } : {}) });
    }
    for (const s of this.staged.values()) out.push({ t: "stg", c: s.client, b: s.uuid, o: s.owner, kp: s.keyPrefix, n: s.size });
    return out;
  }

  get hasOutbox(): boolean {
    return this.outbox !== undefined;
  }

  /** Bundles issued to this client so far (0 = none). */
  seq(clientName: string): number {
    return this.chains.get(clientName)?.seq ?? 0;
  }

  /** Staged (unconfirmed) usable bytes and blocks per pool owner for a client. */
  stagedBytes(clientName: string): { client: number; hub: number; blocks: number; clientBlocks: number; hubBlocks: number } {
    let client = 0;
    let hub = 0;
    let clientBlocks = 0;
    let hubBlocks = 0;
    for (const s of this.staged.values()) {
      if (s.client !== clientName) continue;
      if (s.owner === "client") {
        client += s.size - s.keyPrefix;
        clientBlocks++;
      } else {
        hub += s.size - s.keyPrefix;
        hubBlocks++;
      }
    }
    return { client, hub, blocks: clientBlocks + hubBlocks, clientBlocks, hubBlocks };
  }

  /** True when `secret` is the enrollment secret that came with the client's first bundle. */
  checkEnrollmentSecret(clientName: string, secret: string): boolean {
    const want = this.chains.get(clientName)?.enrollmentHash;
    if (!want) return false;
    const got = Buffer.from(enrollmentHash(secret), "hex");
    const expected = Buffer.from(want, "hex");
    return got.length === expected.length && timingSafeEqual(got, expected);
  }

  /** Forget a client in memory (its `unreg` record in the journal says the same at restore). */
  dropClient(clientName: string): void {
    this.chains.get(clientName)?.nextKey.fill(0);
    this.chains.delete(clientName);
    for (const s of [...this.staged.values()]) if (s.client === clientName) this.staged.delete(s.uuid);
  }

  /** Forget a client (unregistration): its chain and staged blocks (bytes zeroed by deleting the staging pool). */
  async forget(clientName: string): Promise<void> {
    this.dropClient(clientName);
    await this.store.deletePool(stagingPoolName(clientName));
  }

  /**
   * Issue a bundle for a client whose pools are open: client-owned blocks go into the
   * client-owned pool, hub-owned blocks are staged (see above). The chain advances durably before the bundle file appears in the outbox; a crash
   * in between leaves a complete temporary file that `recoverOutbox` publishes at the next start.
   */
  async issue(args: {
    clientName: string;
    authScheme: "gf128" | "hmac-sha256";
    keyPrefix: number;
    clientOwnedBytes: number;
    hubOwnedBytes: number;
    clientOwnedPool: Pool;
    /** Return the sealed bytes (the caller's to zero) instead of writing a file (embedded, in-memory hubs). */
    asBytes?: boolean;
  }): Promise<IssuedBundle & { bytes?: Uint8Array }> {
    let outbox: string | undefined;
    if (!args.asBytes) {
      if (!this.outbox) throw new HubError("unavailable", "this hub has no state directory or outbox, so it cannot write bundle files");
      outbox = this.outbox;
    }
    const { clientName, keyPrefix } = args;
    const blocks: { block_uuid: string; pool_owner: WirePoolOwner; key_prefix: number; data: Uint8Array }[] = [];
    const plan = (owner: WirePoolOwner, usable: number) => {
      let left = usable;
      while (left > 0) {
        const n = Math.min(left, MAX_BUNDLE_BLOCK_BYTES - keyPrefix);
        const data = this.random(n + keyPrefix);
        if (data.length !== n + keyPrefix) throw new HubError("unavailable", "random source returned the wrong size");
        blocks.push({ block_uuid: randomUUID(), pool_owner: owner, key_prefix: keyPrefix, data });
        left -= n;
      }
    };
    const chain = this.chains.get(clientName);
    const seq = (chain?.seq ?? 0) + 1;
    const nextKey = Buffer.from(this.random(CHAIN_KEY_BYTES));
    const enrollmentSecret = seq === 1 ? Buffer.from(this.random(32)).toString("hex") : undefined;
    let tmp: string | undefined;
    try {
      plan("client", args.clientOwnedBytes);
      plan("hub", args.hubOwnedBytes);
      // Block bytes durable at the hub first (the store keeps its own copies).
      const staging = blocks.some((b) => b.pool_owner === "hub")
        ? await this.store.openPool(stagingPoolName(clientName), "peer")
        : undefined;
      const stagedRecords: ProvisionRecord[] = [];
      for (const b of blocks) {
        try {
          if (b.pool_owner === "client") {
            await args.clientOwnedPool.addBlock(b.block_uuid, Uint8Array.from(b.data), { keyPrefix: b.key_prefix });
          } else {
            if (!staging) throw new Error(`internal: no staging pool for the hub-owned block ${b.block_uuid}`);
            await staging.addBlock(b.block_uuid, Uint8Array.from(b.data));
            stagedRecords.push({ t: "stg", c: clientName, b: b.block_uuid, o: "hub", kp: b.key_prefix, n: b.data.length });
          }
        } catch (err) {
          throw fromPsrdError(err, `adding a bundle block for ${clientName}`);
        }
      }
      const bytes = sealBundle({
        hub_name: this.hubName,
        client_name: clientName,
        seq,
        issued_at: new Date().toISOString(),
        auth_scheme: args.authScheme,
        blocks,
        ...(enrollmentSecret ? { enrollment_secret: enrollmentSecret } : {}),
        ...(chain ? { chainKey: chain.nextKey } : {}),
        nextChainKey: nextKey,
      });
      const name = `${this.hubName}-${clientName}-${String(seq).padStart(6, "0")}.psrd`;
      if (outbox !== undefined) {
        tmp = path.join(outbox, `.${name}.tmp`);
        await fs.mkdir(outbox, { recursive: true, mode: 0o700 });
        try {
          await writeBundleFile(tmp, bytes);
        } finally {
          bytes.fill(0);
        }
      }
      const record: ProvisionRecord = {
        t: "chain",
        c: clientName,
        s: seq,
        k: nextKey.toString("base64"),
        ...(enrollmentSecret ? { e: enrollmentHash(enrollmentSecret) } : chain?.enrollmentHash ? { e: chain.enrollmentHash } : {}),
      };
      try {
        await this.append([...stagedRecords, record]);
      } catch (err) {
        if (args.asBytes) bytes.fill(0);
        throw err;
      }
      for (const r of stagedRecords) this.applyRecord(r);
      this.applyRecord(record);
      const clientOwnedBytes = args.clientOwnedBytes;
      const hubOwnedBytes = args.hubOwnedBytes;
      if (args.asBytes) return { file: name, seq, clientOwnedBytes, hubOwnedBytes, blocks: blocks.length, bytes };
      if (outbox === undefined || tmp === undefined) throw new Error(`internal: bundle ${name} was not staged in the outbox`);
      const file = path.join(outbox, name);
      await fs.rename(tmp, file);
      tmp = undefined;
      return { file, seq, clientOwnedBytes, hubOwnedBytes, blocks: blocks.length };
    } finally {
      for (const b of blocks) b.data.fill(0);
      nextKey.fill(0);
      if (tmp) await destroyBundleFile(tmp).catch(() => undefined);
    }
  }

  /**
   * Stage one block delivered over the network (either pool): usable only after the client
   * confirms it. Returns the block bytes (the caller's to send and zero).
   */
  async stageNetworkBlock(
    clientName: string,
    owner: WirePoolOwner,
    size: number,
    keyPrefix: number,
  ): Promise<{ blockUuid: string; data: Uint8Array }> {
    const data = this.random(size);
    if (data.length !== size) throw new HubError("unavailable", "random source returned the wrong size");
    const uuid = randomUUID();
    try {
      const staging = await this.store.openPool(stagingPoolName(clientName), "peer");
      await staging.addBlock(uuid, Uint8Array.from(data));
      const rec: ProvisionRecord = { t: "stg", c: clientName, b: uuid, o: owner, kp: keyPrefix, n: size };
      await this.append([rec]);
      this.applyRecord(rec);
    } catch (err) {
      data.fill(0);
      throw fromPsrdError(err, `staging a PSRD block for ${clientName}`);
    }
    return { blockUuid: uuid, data };
  }

  /**
   * The client confirmed these blocks (signed in band): move each staged block of this client into
   * its pool. Unknown, foreign or already confirmed UUIDs are ignored. Idempotent across a crash:
   * a block already in its pool is only removed from staging.
   */
  async confirm(clientName: string, uuids: readonly string[], pools: { client: Pool; hub: Pool }): Promise<number> {
    const mine = [...new Set(uuids)].map((u) => this.staged.get(u)).filter((s): s is Staged => s !== undefined && s.client === clientName);
    if (mine.length === 0) return 0;
    const staging = await this.store.openPool(stagingPoolName(clientName), "peer");
    const done: ProvisionRecord[] = [];
    try {
      for (const s of mine) {
        const target = s.owner === "client" ? pools.client : pools.hub;
        if (!target.hasBlock(s.uuid)) {
          // Copy into the pool first, then consume the staged copy: a crash in between leaves the
          // block in both (the next confirmation zeroes the staged copy), never in neither.
          const staged = await this.reserveStaged(staging, s, clientName);
          if (!staged) continue;
          try {
            await target.addBlock(s.uuid, staged.data, { keyPrefix: s.keyPrefix });
            await staged.commit();
          } finally {
            staged.release();
            staged.data.fill(0);
          }
        } else if (staging.hasBlock(s.uuid)) {
          // Crash after the move, before the record: zero the staged copy now.
          await staging
            .take({ fragments: [{ blockUuid: s.uuid, start: 0, size: s.size }] }, `drop staged copy of ${s.uuid}`)
            .then((d) => d.fill(0))
            .catch(() => undefined);
        }
        done.push({ t: "act", c: clientName, b: s.uuid });
      }
    } catch (err) {
      throw fromPsrdError(err, `confirming PSRD blocks of ${clientName}`);
    } finally {
      if (done.length > 0) {
        await this.append(done);
        for (const r of done) this.applyRecord(r);
      }
    }
    return done.length;
  }

  /**
   * Hold the staged bytes of `s` for the move into its pool. A staged copy that is gone while the
   * block is absent from its pool (a crash in an earlier version, which consumed the staged copy
   * before copying it) is lost: it is dropped and reported through `onLostBlock`, so the
   * client's confirmation still succeeds for its other blocks instead of failing on every retry.
   */
  private async reserveStaged(staging: Pool, s: Staged, clientName: string): Promise<Reservation | undefined> {
    try {
      return await staging.reserve(
        { fragments: [{ blockUuid: s.uuid, start: 0, size: s.size }] },
        `confirm block ${s.uuid} of ${clientName}`,
      );
    } catch (err) {
      if (!(err instanceof PsrdError) || (err.code !== "consumed" && err.code !== "unknown_block")) throw err;
      const rec: ProvisionRecord = { t: "act", c: clientName, b: s.uuid };
      await this.append([rec]);
      this.applyRecord(rec);
      this.onLostBlock?.(clientName, s.uuid, err.message);
      return undefined;
    }
  }

  /**
   * At start: a complete temporary bundle whose chain step is journaled is published (renamed
   * into the outbox); every other temporary file is destroyed (its chain step never happened).
   */
  async recoverOutbox(): Promise<void> {
    if (!this.outbox) return;
    let names: string[];
    try {
      names = await fs.readdir(this.outbox);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.startsWith(".") || !n.endsWith(".psrd.tmp")) continue;
      const tmp = path.join(this.outbox, n);
      try {
        const header = peekBundleHeader(await fs.readFile(tmp));
        if (header.hub_name === this.hubName && this.seq(header.client_name) === header.seq) {
          await fs.rename(tmp, path.join(this.outbox, n.slice(1, -".tmp".length)));
          continue;
        }
      } catch {
        // incomplete or foreign: destroyed below
      }
      await destroyBundleFile(tmp).catch(() => undefined);
    }
  }

  wipe(): void {
    for (const c of this.chains.values()) c.nextKey.fill(0);
  }
}
