/**
 * The reference client emulator on its own, in process (fast): two emulated clients and four
 * stub hubs speaking the reference wire (stub-reference-hub.ts). Proves the emulator's parts end
 * to end before the system tests rely on it: registration, PSRD in both pools with replenishment,
 * signed share posts and fetches with one-time pads, k of n with hubs down, forged answers
 * refused, the ETSI and management shapes of the guides, and the pool bookkeeping.
 */
import { httpCall } from "./http-call";
import { KmeServer } from "./kme-server";
import { Pool, PsrdError } from "./psrd-pool";
import { ReferenceClient } from "./reference-client";
import { SignatureCheckError } from "./signing";
import { StubReferenceHub } from "./stub-reference-hub";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const hubs = ["hank", "helen", "hilary", "holly"].map((n) => new StubReferenceHub(n));
let carol: KmeServer;
let curtis: KmeServer;

function emulated(name: string, encryptors: string[]): KmeServer {
  const client = new ReferenceClient({
    name,
    hubUrls: hubs.map((h) => h.baseUrl),
    encryptors,
    minNrShares: 3,
    psrd: { startThreshold: 100, stopThreshold: 300, blockSize: 200 },
    retryMs: 20,
  });
  return new KmeServer(client, 0);
}

async function get(url: string, sae?: string): Promise<{ status: number; data: unknown }> {
  const res = await httpCall("GET", url, sae === undefined ? {} : { Authorization: sae });
  return { status: res.status, data: JSON.parse(res.body.toString("utf8")) };
}

const etsi = (kme: KmeServer, peer: string, what: string) => `${kme.baseUrl}/etsi/api/v1/keys/${peer}/${what}`;

async function keyPair(master: string, slave: string, bits: number): Promise<{ enc: unknown; dec: unknown }> {
  const [m, s] = master === "sam" ? [carol, curtis] : [curtis, carol];
  const enc = await get(`${etsi(m, slave, "enc_keys")}?size=${bits}`, master);
  expect(enc.status).toBe(200);
  const id = (enc.data as { keys: { key_ID: string } }).keys.key_ID;
  const dec = await get(`${etsi(s, master, "dec_keys")}?key_ID=${id}`, slave);
  expect(dec.status).toBe(200);
  return { enc: enc.data, dec: dec.data };
}

beforeAll(async () => {
  for (const h of hubs) await h.listen();
  carol = emulated("carol", ["sam"]);
  curtis = emulated("curtis", ["sunny", "susan"]);
  await carol.listen();
  await curtis.listen();
  await Promise.all([carol.client.whenStarted(), curtis.client.whenStarted()]);
});

afterAll(async () => {
  await Promise.all([carol.close(), curtis.close(), ...hubs.map((h) => h.close())]);
});

describe("reference client emulator against stub reference hubs", () => {
  it("registered at every hub and got one block per pool from each (client-owned, then hub-owned)", async () => {
    for (const h of hubs) {
      for (const c of ["carol", "curtis"]) expect(h.psrdRequests.filter((r) => r.startsWith(`${c}:`))).toEqual([`${c}:client`, `${c}:hub`]);
    }
    const status = (await get(`${carol.baseUrl}/mgmt/v1/status`)).data as {
      name: string;
      encryptor_names: string[];
      peer_hubs: { hub_name: string; registered: boolean; local_pool: { owner: string; blocks: object[] }; peer_pool: { owner: string } }[];
    };
    expect(status.name).toBe("carol");
    expect(status.encryptor_names).toEqual(["sam"]);
    expect(status.peer_hubs.map((p) => [p.hub_name, p.registered, p.local_pool.owner, p.peer_pool.owner])).toEqual(
      hubs.map((h) => [h.name, true, "local", "peer"]),
    );
    const blocks = status.peer_hubs[0].local_pool.blocks as { uuid: string }[];
    expect(blocks).toHaveLength(1);
    expect(blocks[0].uuid).toMatch(UUID);
    expect({ ...blocks[0], uuid: "u" }).toEqual({ uuid: "u", size: 200, nr_used_bytes: 0, nr_unused_bytes: 200 });
  });

  it.each([
    ["sam", "sunny", 128],
    ["sam", "sunny", 256],
    ["sunny", "sam", 128],
    ["sunny", "sam", 256],
  ])("%s -> %s, %d bits: enc_keys answers one object, dec_keys a list with the same key", async (master, slave, bits) => {
    const { enc, dec } = await keyPair(master, slave, bits);
    const key = (enc as { keys: { key_ID: string; key: string } }).keys;
    expect(key.key_ID).toMatch(UUID);
    expect(Buffer.from(key.key, "base64")).toHaveLength(bits / 8);
    expect(dec).toEqual({ keys: [key] });
  });

  it("replenishes PSRD below the start threshold and spends pads once (many keys)", async () => {
    const before = hubs.map((h) => h.psrdRequests.length);
    const keys = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const { enc } = await keyPair(i % 2 === 0 ? "sam" : "sunny", i % 2 === 0 ? "sunny" : "sam", 256);
      keys.add((enc as { keys: { key: string } }).keys.key);
    }
    expect(keys.size).toBe(12);
    hubs.forEach((h, i) => expect(h.psrdRequests.length).toBeGreaterThan(before[i]));
    for (const p of carol.client.peerHubs) expect(p.local.unusedBytes).toBeGreaterThanOrEqual(0);
  });

  it("k = 3 of n = 4: one hub down still gives keys, two down refuse with 503 (no key in the error)", async () => {
    hubs[1].down = true;
    try {
      const { enc, dec } = await keyPair("sam", "sunny", 128);
      expect(dec).toEqual({ keys: [(enc as { keys: object }).keys] });
      hubs[2].down = true;
      const refused = await get(etsi(carol, "sunny", "enc_keys"), "sam");
      expect(refused.status).toBe(503);
      expect((refused.data as { detail: string }).detail).toMatch(/could not scatter enough shares .*: 2 of 3 needed/);
    } finally {
      hubs[1].down = false;
      hubs[2].down = false;
    }
  });

  it("a forged answer signature is refused: that hub's share does not count", async () => {
    const enc = await get(etsi(carol, "sunny", "enc_keys"), "sam");
    const keyId = (enc.data as { keys: { key_ID: string } }).keys.key_ID;
    hubs[0].forgeNextSignature = true;
    await expect(curtis.client.peerHubs[0].getShare(keyId)).rejects.toThrow(SignatureCheckError);
    // The other three hubs still hold their shares: the key is still delivered.
    const dec = await get(`${etsi(curtis, "sam", "dec_keys")}?key_ID=${keyId}`, "sunny");
    expect(dec).toEqual({ status: 200, data: { keys: [(enc.data as { keys: object }).keys] } });
  });

  it("ETSI errors and status: the calling SAE, sizes, key IDs", async () => {
    expect((await get(etsi(curtis, "sam", "enc_keys"))).status).toBe(401); // two encryptors, none named
    expect((await get(etsi(carol, "sunny", "enc_keys"), "mallory")).status).toBe(401);
    expect((await get(`${etsi(carol, "sunny", "enc_keys")}?size=100`, "sam")).status).toBe(400);
    expect((await get(`${etsi(curtis, "sam", "dec_keys")}?key_ID=nope`, "sunny")).status).toBe(400);
    const unknown = await get(`${etsi(curtis, "sam", "dec_keys")}?key_ID=00000000-0000-4000-8000-000000000000`, "sunny");
    expect(unknown.status).toBe(503);
    const status = await get(etsi(carol, "sunny", "status"));
    expect(status.status).toBe(200);
    const fields = status.data as Record<string, unknown>;
    expect([fields.source_kme_id, fields.master_sae_id, fields.slave_sae_id, fields.key_size]).toEqual(["carol", "sam", "sunny", 128]);
    expect((await get(`${carol.baseUrl}/nope`)).status).toBe(404);
  });
});

describe("PSRD pool bookkeeping", () => {
  it("allocates across blocks, zeroes what it hands out and forgets fully used blocks", () => {
    const pool = new Pool("local");
    pool.addBlock(
      "11111111-1111-4111-8111-111111111111",
      Uint8Array.from({ length: 10 }, (_, i) => i + 1),
    );
    pool.addBlock(
      "22222222-2222-4222-8222-222222222222",
      Uint8Array.from({ length: 10 }, (_, i) => i + 11),
    );
    const a = pool.allocate(4);
    const b = pool.allocate(12);
    expect(a.fragments).toEqual([{ block_uuid: "11111111-1111-4111-8111-111111111111", start: 0, size: 4 }]);
    expect(b.fragments).toEqual([
      { block_uuid: "11111111-1111-4111-8111-111111111111", start: 4, size: 6 },
      { block_uuid: "22222222-2222-4222-8222-222222222222", start: 0, size: 6 },
    ]);
    expect([...b.data]).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(pool.unusedBytes).toBe(4);
    expect(() => pool.allocate(5)).toThrow(PsrdError);
    pool.deleteFullyConsumedBlocks();
    expect(pool.status().blocks).toEqual([
      { uuid: "22222222-2222-4222-8222-222222222222", size: 10, nr_used_bytes: 6, nr_unused_bytes: 4 },
    ]);
  });

  it("takes what a peer names once: reuse, overlap, unknown blocks and out-of-range fragments are refused with nothing taken", () => {
    const pool = new Pool("peer");
    const uuid = "33333333-3333-4333-8333-333333333333";
    pool.addBlock(uuid.toUpperCase(), new Uint8Array(16).fill(7));
    expect(() => pool.allocate(1)).toThrow(PsrdError);
    expect([...pool.take([{ block_uuid: uuid, start: 2, size: 3 }]).data]).toEqual([7, 7, 7]);
    expect(() => pool.take([{ block_uuid: uuid, start: 4, size: 2 }])).toThrow(/used before/);
    expect(() => pool.take([{ block_uuid: uuid, start: 14, size: 3 }])).toThrow(/outside/);
    expect(() =>
      pool.take([
        { block_uuid: uuid, start: 8, size: 2 },
        { block_uuid: uuid, start: 9, size: 2 },
      ]),
    ).toThrow(/overlap/);
    expect(() => pool.take([{ block_uuid: "44444444-4444-4444-8444-444444444444", start: 0, size: 1 }])).toThrow(/unknown block/);
    expect(pool.unusedBytes).toBe(13);
    expect(() => pool.addBlock(uuid, new Uint8Array(1))).toThrow(/already/);
  });
});
