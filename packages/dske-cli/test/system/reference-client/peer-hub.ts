/**
 * One hub as the reference client sees it (the reference's PeerHub): its two PSRD pools and the
 * reference wire towards it.
 *
 * - `PUT  {hub}/dske/oob/v1/registration` `{client_name, encryptor_names}` → `{hub_name}`
 *   (no auth_scheme, no extensions: a v1 client).
 * - `GET  {hub}/dske/oob/v1/psrd?client_name=&pool_owner=client|hub&size=` → `{block_uuid, data}`
 *   (unauthenticated network delivery, the reference's simulation of out of band).
 * - `POST {hub}/dske/api/v1/key-share` `{client_name, user_key_id, share_index,
 *   encryption_key_allocation: {fragments: [{block_uuid, start, size}]}, encrypted_share_value}`,
 *   pad and signing key from the client-owned (local) pool; the signed answer is checked.
 * - `GET  {hub}/dske/api/v1/key-share?client_name=&key_id=` (signed) → `{share_index,
 *   encryption_key_allocation, encrypted_share_value}`, pad and answer signature from the
 *   hub-owned (peer) pool.
 *
 * PSRD is replenished before each in-band call: below `startThreshold` unused bytes, blocks of
 * `blockSize` are requested until there are `stopThreshold` (the reference client's options).
 */
import { errorText, httpCall } from "./http-call";
import { Pool, xorPad, type WireFragment } from "./psrd-pool";
import { SIGNATURE_HEADER, signRequest, verifyResponse } from "./signing";

export interface PsrdThresholds {
  readonly startThreshold: number;
  readonly stopThreshold: number;
  readonly blockSize: number;
}

export class HubCallError extends Error {
  override readonly name = "HubCallError";
}

/** Bytes one in-band exchange may spend from a pool besides the pad: a 32-byte signing key. */
const SIGNING_KEY_BYTES = 32;

function jsonObject(body: Buffer, what: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(body.toString("utf8"));
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new HubCallError(`${what}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

function fragmentsOf(value: unknown): WireFragment[] {
  const fragments = value !== null && typeof value === "object" ? (value as Record<string, unknown>).fragments : undefined;
  if (!Array.isArray(fragments)) throw new HubCallError("encryption_key_allocation has no fragments");
  return fragments.map((f: unknown) => {
    const o = (f ?? {}) as Record<string, unknown>;
    if (typeof o.block_uuid !== "string" || typeof o.start !== "number" || typeof o.size !== "number") {
      throw new HubCallError("a fragment must be {block_uuid, start, size}");
    }
    return { block_uuid: o.block_uuid, start: o.start, size: o.size };
  });
}

export class PeerHub {
  readonly local = new Pool("local");
  readonly peer = new Pool("peer");
  hubName: string | undefined;
  registered = false;
  private psrdQueue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly baseUrl: string,
    private readonly client: { readonly name: string; readonly encryptors: readonly string[] },
    private readonly psrd: PsrdThresholds,
  ) {}

  async register(): Promise<void> {
    const body = Buffer.from(JSON.stringify({ client_name: this.client.name, encryptor_names: [...this.client.encryptors] }));
    const res = await httpCall("PUT", `${this.baseUrl}/dske/oob/v1/registration`, { "Content-Type": "application/json" }, body);
    if (res.status !== 200) throw new HubCallError(`registration at ${this.baseUrl}: ${errorText(res)}`);
    const hubName = jsonObject(res.body, "registration").hub_name;
    if (typeof hubName !== "string") throw new HubCallError("registration answer without hub_name");
    this.hubName = hubName;
    this.registered = true;
  }

  /** One block for the local (`client`-owned) or peer (`hub`-owned) pool. */
  async requestPsrd(owner: "client" | "hub"): Promise<void> {
    const query = new URLSearchParams({ client_name: this.client.name, pool_owner: owner, size: String(this.psrd.blockSize) });
    const res = await httpCall("GET", `${this.baseUrl}/dske/oob/v1/psrd?${query.toString()}`);
    if (res.status !== 200) throw new HubCallError(`PSRD (${owner}-owned) from ${this.baseUrl}: ${errorText(res)}`);
    const o = jsonObject(res.body, "psrd");
    if (typeof o.block_uuid !== "string" || typeof o.data !== "string") throw new HubCallError("psrd answer without block_uuid and data");
    const data = new Uint8Array(Buffer.from(o.data, "base64"));
    if (data.length !== this.psrd.blockSize) throw new HubCallError(`psrd block of ${data.length} bytes, ${this.psrd.blockSize} asked`);
    (owner === "client" ? this.local : this.peer).addBlock(o.block_uuid, data);
  }

  /** Top both pools up (one replenishment at a time per hub) so that the next exchange has `need` bytes. */
  replenish(need: number): Promise<void> {
    const run = async () => {
      for (const [pool, owner] of [
        [this.local, "client"],
        [this.peer, "hub"],
      ] as const) {
        if (pool.unusedBytes >= Math.max(this.psrd.startThreshold, need)) continue;
        while (pool.unusedBytes < Math.max(this.psrd.stopThreshold, need)) await this.requestPsrd(owner);
      }
    };
    const next = this.psrdQueue.then(run, run);
    this.psrdQueue = next.catch(() => undefined);
    return next;
  }

  async postShare(userKeyId: string, shareIndex: number, value: Uint8Array): Promise<void> {
    await this.replenish(value.length + SIGNING_KEY_BYTES);
    const pad = this.local.allocate(value.length);
    const encrypted = xorPad(value, pad.data);
    pad.data.fill(0);
    const body = Buffer.from(
      JSON.stringify({
        client_name: this.client.name,
        user_key_id: userKeyId,
        share_index: shareIndex,
        encryption_key_allocation: { fragments: pad.fragments },
        encrypted_share_value: Buffer.from(encrypted).toString("base64"),
      }),
    );
    const signature = signRequest(this.local, "", body);
    const res = await httpCall(
      "POST",
      `${this.baseUrl}/dske/api/v1/key-share`,
      { "Content-Type": "application/json", [SIGNATURE_HEADER]: signature },
      body,
    );
    if (res.status !== 200) throw new HubCallError(`POST key-share to ${this.baseUrl}: ${errorText(res)}`);
    verifyResponse(this.peer, res.header(SIGNATURE_HEADER), res.body);
  }

  async getShare(keyId: string): Promise<{ shareIndex: number; value: Uint8Array }> {
    await this.replenish(SIGNING_KEY_BYTES);
    const query = new URLSearchParams({ client_name: this.client.name, key_id: keyId }).toString();
    const signature = signRequest(this.local, query, new Uint8Array(0));
    const res = await httpCall("GET", `${this.baseUrl}/dske/api/v1/key-share?${query}`, { [SIGNATURE_HEADER]: signature });
    if (res.status !== 200) throw new HubCallError(`GET key-share from ${this.baseUrl}: ${errorText(res)}`);
    verifyResponse(this.peer, res.header(SIGNATURE_HEADER), res.body);
    const o = jsonObject(res.body, "key-share");
    if (typeof o.share_index !== "number" || typeof o.encrypted_share_value !== "string") {
      throw new HubCallError("key-share answer without share_index and encrypted_share_value");
    }
    const pad = this.peer.take(fragmentsOf(o.encryption_key_allocation));
    const value = xorPad(new Uint8Array(Buffer.from(o.encrypted_share_value, "base64")), pad.data);
    pad.data.fill(0);
    return { shareIndex: o.share_index, value };
  }

  deleteFullyConsumedBlocks(): void {
    this.local.deleteFullyConsumedBlocks();
    this.peer.deleteFullyConsumedBlocks();
  }

  /** The user guide's `peer_hubs[]` entry (pools without their bytes). */
  status(): Record<string, unknown> {
    return { hub_name: this.hubName ?? null, registered: this.registered, local_pool: this.local.status(), peer_pool: this.peer.status() };
  }
}
