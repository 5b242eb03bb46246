/** Test helpers: a client-side mirror of a client's two pools, share encryption/decryption. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blockKeyPrefix, type AuthSchemeName, type PeerAuth } from "@dske/auth";
import { MemoryStore, type Pool } from "@dske/psrd";
import { openBundle, type OpenedBundle } from "@dske/distributor";
import type { Hub } from "../src/hub";
import { HubError } from "../src/errors";
import { ErrorBodySchema, HubApiError, type ErrorBody } from "@dske/protocol";
import { allocationFromWire, allocationToWire, type WireAllocation } from "@dske/protocol";

/** `value`, failing the test when it is null or undefined (a checked non-null assertion). */
export function defined<T>(value: T | null | undefined, what = "a value"): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}, got ${String(value)}`);
  return value;
}

/** What a DSKE client keeps for one hub: the pool it owns (client-owned) and the hub's (hub-owned). */
export interface ClientMirror {
  name: string;
  scheme: AuthSchemeName;
  /** Client-owned pool (the client allocates from it). */
  local: Pool;
  /** Hub-owned pool (the client takes named bytes from it). */
  peer: Pool;
  peerAuth: PeerAuth;
}

export async function clientMirror(name: string, scheme: AuthSchemeName, store = new MemoryStore()): Promise<ClientMirror> {
  const local = await store.openPool(`hub-client-owned.${name}`, "local");
  const peer = await store.openPool(`hub-hub-owned.${name}`, "peer");
  return { name, scheme, local, peer, peerAuth: { scheme, localPool: local, peerPool: peer } };
}

/** A mirror provisioned like a real client: from its bundles, with the chain to open the next one. */
export interface ProvisionedMirror extends ClientMirror {
  seq: number;
  chainKey: Uint8Array;
  /** UUIDs of the blocks installed from bundles so far, per pool owner (in bundle order). */
  blockUuids: { client: string[]; hub: string[] };
  /** The enrollment secret from the first bundle's header (plain-mode credential of this client). */
  enrollmentSecret: string;
}

/**
 * Add an opened bundle's blocks to the mirror's pools (what a client's installer does) and zero
 * the opened copies; returns the UUIDs per pool owner (hub-owned ones are to be confirmed).
 */
export async function installOpened(mirror: ClientMirror, opened: OpenedBundle): Promise<{ client: string[]; hub: string[] }> {
  const uuids = { client: [] as string[], hub: [] as string[] };
  for (const b of opened.blocks) {
    const pool = b.pool_owner === "client" ? mirror.local : mirror.peer;
    await pool.addBlock(b.block_uuid, b.data, { keyPrefix: b.key_prefix });
    uuids[b.pool_owner].push(b.block_uuid);
    b.data.fill(0);
  }
  return uuids;
}

/**
 * Provision client `name` at `hub` the way the local distributor does, in process: the hub issues
 * a sealed bundle (first one: registers the client), the "client" opens it and adds the blocks to
 * its mirror pools, confirms the hub-owned blocks (the hub uses them only after that), and the
 * registration is completed with `encryptors` (and the ack extension if asked).
 */
export async function provisionMirror(
  hub: Hub,
  name: string,
  options: { encryptors?: string[]; bytes?: number; scheme?: AuthSchemeName; ack?: boolean; store?: MemoryStore } = {},
): Promise<ProvisionedMirror> {
  const bytes = options.bytes ?? 8192;
  const sealed = await hub.issueBundleBytes(name, bytes, bytes, { authScheme: options.scheme });
  const opened = openBundle(sealed, { clientName: name, hubName: hub.name, expectedSeq: 1 });
  sealed.fill(0);
  const mirror = await clientMirror(name, opened.header.auth_scheme, options.store);
  const blockUuids = await installOpened(mirror, opened);
  await hub.confirmPsrd(name, blockUuids.hub);
  await hub.register({
    client_name: name,
    encryptor_names: options.encryptors ?? [],
    auth_scheme: opened.header.auth_scheme,
    ...(options.ack ? { extensions: ["ack"] } : {}),
  });
  return { ...mirror, seq: 1, chainKey: opened.nextChainKey, blockUuids, enrollmentSecret: defined(opened.header.enrollment_secret) };
}

/** One more bundle for a provisioned mirror (replenishment by the local distributor). */
export async function replenishMirror(hub: Hub, mirror: ProvisionedMirror, bytes: { client?: number; hub?: number }): Promise<void> {
  const sealed = await hub.issueBundleBytes(mirror.name, bytes.client ?? 0, bytes.hub ?? 0);
  const opened = openBundle(sealed, { clientName: mirror.name, hubName: hub.name, expectedSeq: mirror.seq + 1, chainKey: mirror.chainKey });
  sealed.fill(0);
  const uuids = await installOpened(mirror, opened);
  if (uuids.hub.length > 0) await hub.confirmPsrd(mirror.name, uuids.hub);
  mirror.blockUuids.client.push(...uuids.client);
  mirror.blockUuids.hub.push(...uuids.hub);
  mirror.chainKey.fill(0);
  mirror.seq += 1;
  mirror.chainKey = opened.nextChainKey;
}

/** Add a block the hub delivered to the mirror's matching pool. */
export async function addDelivered(mirror: ClientMirror, poolOwner: "client" | "hub", blockUuid: string, data: Uint8Array): Promise<void> {
  const pool = poolOwner === "client" ? mirror.local : mirror.peer;
  await pool.addBlock(blockUuid, Uint8Array.from(data), { keyPrefix: blockKeyPrefix(mirror.scheme) });
}

/** One-time-pad encrypt share bytes with an allocation from the client-owned pool. */
export async function encryptShare(
  mirror: ClientMirror,
  value: Uint8Array,
): Promise<{ encryption_key_allocation: WireAllocation; encrypted_share_value: string }> {
  const { allocation, data } = await mirror.local.allocate(value.length, "test encrypt share");
  const ct = Buffer.alloc(value.length);
  for (let i = 0; i < value.length; i++) ct[i] = value[i] ^ data[i];
  data.fill(0);
  return { encryption_key_allocation: allocationToWire(allocation), encrypted_share_value: ct.toString("base64") };
}

/** Encrypt several values with ONE allocation (the batch wire). */
export async function encryptBatch(
  mirror: ClientMirror,
  values: readonly Uint8Array[],
): Promise<{ encryption_key_allocation: WireAllocation; ciphertexts: string[] }> {
  const total = values.reduce((n, v) => n + v.length, 0);
  const { allocation, data } = await mirror.local.allocate(total, "test encrypt batch");
  let off = 0;
  const ciphertexts = values.map((v) => {
    const ct = Buffer.alloc(v.length);
    for (let i = 0; i < v.length; i++) ct[i] = v[i] ^ data[off + i];
    off += v.length;
    return ct.toString("base64");
  });
  return { encryption_key_allocation: allocationToWire(allocation), ciphertexts };
}

/** Decrypt a fetched share with the named bytes of the mirror's hub-owned pool. */
export async function decryptShare(mirror: ClientMirror, allocation: WireAllocation, ciphertext: string): Promise<Buffer> {
  const pad = await mirror.peer.take(allocationFromWire(allocation), "test decrypt share");
  const ct = Buffer.from(ciphertext, "base64");
  expect(pad.length).toBe(ct.length);
  for (let i = 0; i < ct.length; i++) ct[i] ^= pad[i];
  return ct;
}

/** Decrypt several fetched shares cut in order from one allocation. */
export async function decryptBatch(mirror: ClientMirror, allocation: WireAllocation, ciphertexts: readonly string[]): Promise<Buffer[]> {
  const pad = await mirror.peer.take(allocationFromWire(allocation), "test decrypt batch");
  let off = 0;
  return ciphertexts.map((c) => {
    const ct = Buffer.from(c, "base64");
    for (let i = 0; i < ct.length; i++) ct[i] ^= pad[off + i];
    off += ct.length;
    return ct;
  });
}

/** Deterministic test bytes. */
export function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A fresh temporary directory for each test of the enclosing describe (removed after each). */
export function useTempDir(prefix: string): { readonly path: string } {
  const tmp = { path: "" };
  beforeEach(() => {
    tmp.path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(tmp.path, { recursive: true, force: true }));
  return tmp;
}

/** A response's body as the hub's error body (`{message, details?}`), failing the test when it is not one. */
export function errorBody(res: { body: unknown }): ErrorBody {
  return ErrorBodySchema.parse(res.body);
}

/** The HubError a promise rejects with (of this kind, message matching), failing the test otherwise. */
export async function expectHubError(p: Promise<unknown>, kind: HubError["kind"], message?: RegExp): Promise<HubError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  expect((err as HubError).kind).toBe(kind);
  if (message) expect((err as HubError).message).toMatch(message);
  return err as HubError;
}

/** The HubApiError a promise rejects with, failing the test otherwise. */
export async function apiError(p: Promise<unknown>): Promise<HubApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubApiError);
  return err as HubApiError;
}
