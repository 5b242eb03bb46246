/**
 * Key stock (master side, key-stock.ts) and batch prefetch (slave side, key-delivery.ts): policy with a
 * fake clock, batch key IDs, and the whole path through real hubs and clients in process.
 */
import { KeyStock, MAX_STOCK_BATCH, MIN_REFILL } from "../src/key-stock";
import {
  batchSiblings,
  isMulticastKeyId,
  newBatchKeyIds,
  newKeyId,
  padLength,
  padLengthFromKeyId,
  pooledRandom,
  splitRandomBytes,
} from "../src/key";
import { EtsiApiError } from "@dske/protocol";
import { startNetwork, waitFor, type TestNetwork } from "./harness";
import { defined } from "./defined";

const key = (b: number) => ({ keyId: `id-${b}`, key: new Uint8Array(32).fill(b) });

describe("KeyStock policy", () => {
  let now = 1_000_000;
  const clock = () => now;

  test("a pair asking once gets no stock; sustained demand does, one refill at a time", () => {
    const stock = new KeyStock({ now: clock });
    expect(stock.take("sam", "sunny", 256, 1)).toEqual([]);
    expect(stock.refillDue("sam", "sunny", 256)).toBeUndefined();
    // A single big request is no sustained demand either.
    expect(stock.take("sam", "serena", 256, 100)).toEqual([]);
    expect(stock.refillDue("sam", "serena", 256)).toBeUndefined();
    now += 100;
    stock.take("sam", "sunny", 256, 1);
    const order = stock.refillDue("sam", "sunny", 256);
    // 2 keys/s: MIN_REFILL would sit in memory for minutes, so twice the look-ahead of demand: 8.
    expect(order).toEqual({ masterSae: "sam", slaveSae: "sunny", size: 256, count: 8 });
    // In flight: no second order until it settles.
    expect(stock.refillDue("sam", "sunny", 256)).toBeUndefined();
    stock.add(
      "sam",
      "sunny",
      256,
      Array.from({ length: defined(order).count }, (_, i) => key(i)),
    );
    stock.refillDone(defined(order));
    expect(stock.size("sam", "sunny", 256)).toBe(8);
    // Plenty in stock for the measured rate: nothing due.
    expect(stock.refillDue("sam", "sunny", 256)).toBeUndefined();
  });

  test("keys come out oldest first, each once; a failed request puts them back in front", () => {
    const stock = new KeyStock({ now: clock });
    stock.add("sam", "sunny", 256, [key(1), key(2), key(3)]);
    // A pair's first request (no demand going on) is served on demand, not from the stock.
    expect(stock.take("sam", "sunny", 256, 2)).toEqual([]);
    const a = stock.take("sam", "sunny", 256, 2);
    expect(a.map((k) => k.keyId)).toEqual(["id-1", "id-2"]);
    stock.putBack("sam", "sunny", 256, a);
    expect(stock.take("sam", "sunny", 256, 5).map((k) => k.keyId)).toEqual(["id-1", "id-2", "id-3"]);
    expect(stock.take("sam", "sunny", 256, 1)).toEqual([]);
    // Pairs and sizes are separate stocks.
    stock.add("sam", "sunny", 128, [key(4)]);
    stock.take("sam", "susan", 128, 1);
    expect(stock.take("sam", "susan", 128, 1)).toEqual([]);
    expect(stock.take("sam", "sunny", 256, 1)).toEqual([]);
    stock.take("sam", "sunny", 128, 1);
    expect(stock.take("sam", "sunny", 128, 1).map((k) => k.keyId)).toEqual(["id-4"]);
  });

  test("after a quiet spell the first request is not served from the stock (it goes on demand and checks the hubs)", () => {
    const stock = new KeyStock({ now: clock });
    stock.add("sam", "sunny", 256, [key(1), key(2), key(3)]);
    expect(stock.take("sam", "sunny", 256, 1)).toEqual([]);
    now += 500;
    expect(stock.take("sam", "sunny", 256, 1).map((k) => k.keyId)).toEqual(["id-1"]);
    now += 2500; // quiet for longer than the hot window
    expect(stock.take("sam", "sunny", 256, 1)).toEqual([]);
    now += 100;
    expect(stock.take("sam", "sunny", 256, 1).map((k) => k.keyId)).toEqual(["id-2"]);
  });

  test("stocked keys expire after ttlMs and are zeroed; clear() zeroes the rest", () => {
    const stock = new KeyStock({ now: clock, ttlMs: 1000 });
    const old = key(7);
    stock.add("sam", "sunny", 256, [old]);
    now += 500;
    const young = key(8);
    stock.add("sam", "sunny", 256, [young]);
    stock.take("sam", "sunny", 256, 0); // demand going on
    now += 600; // old is 1100 ms old, young 600
    const got = stock.take("sam", "sunny", 256, 2);
    expect(got.map((k) => k.keyId)).toEqual(["id-8"]);
    expect(old.key.every((b) => b === 0)).toBe(true);
    const left = key(9);
    stock.add("sam", "sunny", 256, [left]);
    now += 2000;
    stock.sweep();
    expect(left.key.every((b) => b === 0)).toBe(true);
    const kept = key(10);
    stock.add("sam", "sunny", 256, [kept]);
    stock.clear();
    expect(kept.key.every((b) => b === 0)).toBe(true);
    expect(stock.total()).toBe(0);
  });

  test("a busy pair refills in batches of at least MIN_REFILL", () => {
    const stock = new KeyStock({ now: clock });
    // 5 keys every 30 ms: ~167 keys/s, target 2 s ahead = ~333 keys, below MIN_REFILL; 4 s of
    // demand (twice the look-ahead, ~667) is above it, so the batch is MIN_REFILL.
    for (let i = 0; i < 34; i++) {
      stock.take("sam", "sunny", 256, 5);
      now += 30;
    }
    stock.take("sam", "sunny", 256, 5);
    expect(stock.refillDue("sam", "sunny", 256)?.count).toBe(MIN_REFILL);
  });

  test("a moderate pair refills with twice the look-ahead of demand when that is less than MIN_REFILL", () => {
    const stock = new KeyStock({ now: clock });
    // 1 key every 30 ms: ~33 keys/s; 4 s (twice the 2 s look-ahead) of it is ~133 keys < MIN_REFILL.
    for (let i = 0; i < 34; i++) {
      stock.take("sam", "sunny", 256, 1);
      now += 30;
    }
    stock.take("sam", "sunny", 256, 1);
    const count = defined(stock.refillDue("sam", "sunny", 256)).count;
    expect(count).toBeLessThan(MIN_REFILL);
    expect(count).toBeGreaterThanOrEqual(125);
    expect(count).toBeLessThanOrEqual(140);
  });

  test("aheadMs 0 disables it; the target follows the demand rate and is capped", () => {
    expect(new KeyStock({ aheadMs: 0 }).enabled).toBe(false);
    const off = new KeyStock({ aheadMs: 0, now: clock });
    for (let i = 0; i < 10; i++) off.take("sam", "sunny", 256, 10);
    expect(off.refillDue("sam", "sunny", 256)).toBeUndefined();

    const stock = new KeyStock({ now: clock, aheadMs: 2000, maxPerPair: 300 });
    // 20 requests of 10 keys within one second: 200 keys/s → target 400, capped at 300.
    for (let i = 0; i < 20; i++) {
      stock.take("sam", "sunny", 256, 10);
      now += 50;
    }
    stock.take("sam", "sunny", 256, 10); // a new window starts: the last one's rate counts
    const order = defined(stock.refillDue("sam", "sunny", 256));
    expect(order.count).toBe(300);
    expect(order.count).toBeLessThanOrEqual(MAX_STOCK_BATCH);
  });

  test("minRate sets the least demand that gets a stock", () => {
    // One request of one key per 1.5 s: below the default 2 keys/s, so no stock...
    const strict = new KeyStock({ now: clock });
    const lenient = new KeyStock({ now: clock, minRate: 1 });
    for (let i = 0; i < 4; i++) {
      strict.take("sam", "sunny", 256, 2);
      lenient.take("sam", "sunny", 256, 2);
      now += 1500;
    }
    strict.take("sam", "sunny", 256, 2);
    lenient.take("sam", "sunny", 256, 2);
    expect(strict.refillDue("sam", "sunny", 256)).toBeUndefined();
    // ...but 1.3 keys/s in one request per window is enough at minRate 1.
    expect(lenient.refillDue("sam", "sunny", 256)?.count).toBeGreaterThan(0);
    expect(new KeyStock().freshMs).toBe(3000);
    expect(new KeyStock({ freshMs: 60_000 }).freshMs).toBe(60_000);
  });
});

describe("batch key IDs", () => {
  test("a batch shares one random part; each ID names its siblings; other IDs have none", () => {
    const ids = newBatchKeyIds(256, 40);
    expect(new Set(ids).size).toBe(40);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(padLengthFromKeyId(id)).toBe(padLength(256));
      expect(isMulticastKeyId(id)).toBe(false);
      expect(batchSiblings(id)).toEqual(ids);
    }
    const other = newBatchKeyIds(256, 40);
    expect(other.some((id) => ids.includes(id))).toBe(false);
    expect(padLengthFromKeyId(newBatchKeyIds(200, 1)[0])).toBe(padLength(200));
    // Single keys and multicast keys are no batch members.
    for (let i = 0; i < 50; i++) {
      expect(batchSiblings(newKeyId(256))).toEqual([]);
      expect(batchSiblings(newKeyId(256, true))).toEqual([]);
    }
    expect(batchSiblings("not-a-key-id")).toEqual([]);
    const id = ids[3];
    // An index beyond the batch size is not a batch member.
    expect(batchSiblings(id.slice(0, 28) + "fff" + id.slice(31))).toEqual([]);
    expect(() => newBatchKeyIds(256, 0)).toThrow(RangeError);
    expect(() => newBatchKeyIds(256, 4097)).toThrow(RangeError);
  });

  test("pooledRandom serves distinct ranges of one draw, zeroes them in its pool, then falls back", () => {
    const r = pooledRandom(64);
    const a = r(32);
    const b = r(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    const c = r(16); // pool exhausted: a fresh draw
    expect(c.length).toBe(16);
    r.wipe();
    expect(splitRandomBytes(256, 3)).toBe(48 * 3);
  });
});

describe("key stock through real hubs and clients", () => {
  let net: TestNetwork;
  // The stock's clock moves only when a test moves it: demand measured per second does not depend
  // on how fast this machine answers the requests (a few requests "at once" are sustained demand),
  // and no stocked key expires during a test. The stock's policy against time is tested with a
  // fake clock above.
  let stockTime = Date.now();
  // A refill is one message of hundreds of shares per hub, all nodes in this one process: on a slow
  // or busy machine that takes seconds, which the harness's short hub timeout (3 s, for the tests
  // that take hubs down) would cut off, leaving the stock empty. Here a hub that is down refuses
  // the connection at once, so a long timeout costs nothing.
  const hubTimeoutMs = 25_000;
  // Waits for the background refills: a bound against a hang only, within jest's 30 s per test.
  const refillWaitMs = 25_000;
  beforeEach(async () => {
    net = await startNetwork({
      hubs: ["hank", "helen", "hilary", "holly", "hugo"],
      k: 3,
      // freshMs: a real-time stall of the hubs (busy machine) must not send a measured request on demand.
      client: { stock: { aheadMs: 2000, now: () => stockTime, freshMs: 60_000 }, link: { ackFlushMs: 50, timeoutMs: hubTimeoutMs } },
    });
  });
  afterEach(async () => {
    await net.close();
  });

  const keysStatus = (c: { client: { mgmtStatus(): Record<string, unknown> } }) =>
    c.client.mgmtStatus().keys as { issued_from_stock: number; issued_on_demand: number; prefetched: number; stocked: number };

  test("under sustained demand keys come from the stock, the slave prefetches the batch, every key matches and is delivered once", async () => {
    const sam = net.carol.etsi("sam");
    const sunny = net.curtis.etsi("sunny");
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const got = await sam.getKey("sunny");
      expect((await sunny.getKeyWithKeyId("sam", got.keys[0].key_ID)).keys).toEqual(got.keys);
      seen.add(got.keys[0].key_ID);
    }
    await waitFor(() => keysStatus(net.carol).stocked > 0, refillWaitMs, "a stock for sam -> sunny");
    const fetches0 = net.curtis.client.peerHubs.reduce((n, h) => n + h.fetchCoalescer.entries, 0);
    const posts0 = net.carol.client.peerHubs.reduce((n, h) => n + h.postCoalescer.entries, 0);
    const fromStock0 = keysStatus(net.carol).issued_from_stock;
    const n = 10;
    for (let i = 0; i < n; i++) {
      const got = await sam.getKey("sunny");
      const id = got.keys[0].key_ID;
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      expect(batchSiblings(id).length).toBeGreaterThan(1);
      expect((await sunny.getKeyWithKeyId("sam", id)).keys).toEqual(got.keys);
      // Delivered once.
      const again = await sunny.getKeyWithKeyId("sam", id).catch((e: unknown) => e);
      expect((again as EtsiApiError).status).toBe(400);
    }
    expect(keysStatus(net.carol).issued_from_stock - fromStock0).toBe(n);
    // The slave fetched the whole batch once (one fetch per hub of wave 1, maybe wave 2), not once per key.
    const fetches = net.curtis.client.peerHubs.reduce((x, h) => x + h.fetchCoalescer.entries, 0) - fetches0;
    expect(fetches).toBeLessThanOrEqual(2 * net.hubs.length);
    expect(keysStatus(net.curtis).prefetched).toBeGreaterThan(0);
    // Only stock refills posted shares meanwhile (one post per hub per refill, not one per key).
    const posts = net.carol.client.peerHubs.reduce((x, h) => x + h.postCoalescer.entries, 0) - posts0;
    expect(posts).toBeLessThan(n * net.hubs.length);
    // Acknowledged to every hub: delivered keys' shares do not linger at any hub.
    const delivered = [...seen];
    await waitFor(
      () => net.hubs.every((h) => !h.hub.status().shares.some((s) => delivered.includes(s.key_id))),
      refillWaitMs,
      "every hub to drop the delivered keys' shares",
    );
  });

  test("requests for 50 keys (more than the old limit of 16) are served from the stock under sustained demand; more than 256 go on demand", async () => {
    const sam = net.carol.etsi("sam");
    const susan = net.curtis.etsi("susan");
    const roundTrip = async (number: number) => {
      stockTime += 200; // five requests per (stock) second: sustained demand of 250 keys/s
      const got = await sam.getKey("susan", { number });
      expect(got.keys).toHaveLength(number);
      const back = await susan.getKeysWithKeyIds(
        "sam",
        got.keys.map((k) => k.key_ID),
      );
      expect(back.keys).toEqual(got.keys);
      return got;
    };
    // Sustained demand of 50-key requests, until the stock has seen it: a request while the pair's
    // demand was ongoing found the stock empty, so a refill (of hundreds of keys) is due. (A
    // request finds the stock unusable, and is not counted, while fewer than k hubs answered
    // within the last 3 s of real time, e.g. the first one on a slow machine: count, not assume.)
    const misses = () => (net.carol.client.mgmtStatus().keys as { stock_misses: { empty: number } }).stock_misses;
    for (let i = 0; i < 10 && misses().empty < 50; i++) await roundTrip(50);
    expect(misses().empty).toBeGreaterThanOrEqual(50);
    await waitFor(() => keysStatus(net.carol).stocked >= 50, refillWaitMs, "a stock of 50+ keys for sam -> susan");
    const posts0 = net.carol.client.peerHubs.reduce((n, h) => n + h.postCoalescer.entries, 0);
    const fromStock0 = keysStatus(net.carol).issued_from_stock;
    const got = await roundTrip(50);
    expect(keysStatus(net.carol).issued_from_stock - fromStock0).toBe(50);
    expect(got.keys.every((k) => batchSiblings(k.key_ID).length > 1)).toBe(true);
    // Served from memory: that request posted nothing to the hubs itself.
    expect(net.carol.client.peerHubs.reduce((n, h) => n + h.postCoalescer.entries, 0) - posts0).toBeLessThanOrEqual(net.hubs.length);
    // A request above 256 keys is a batch of its own: established on demand, not from the stock.
    const onDemand0 = keysStatus(net.carol).issued_on_demand;
    const stocked0 = keysStatus(net.carol).stocked;
    await roundTrip(257);
    expect(keysStatus(net.carol).issued_on_demand - onDemand0).toBe(257);
    // ...and took nothing out of the stock.
    expect(keysStatus(net.carol).stocked).toBeGreaterThanOrEqual(stocked0);
  });

  test("key responses are not cacheable: Cache-Control no-store, no ETag (no digest of keys in a header)", async () => {
    const enc = await fetch(`http://127.0.0.1:${net.carol.port}/api/v1/keys/sunny/enc_keys`, { headers: { Authorization: "sam" } });
    expect(enc.status).toBe(200);
    expect(enc.headers.get("cache-control")).toBe("no-store");
    expect(enc.headers.get("etag")).toBeNull();
    const { keys } = (await enc.json()) as { keys: { key_ID: string; key: string }[] };
    const dec = await fetch(`http://127.0.0.1:${net.curtis.port}/api/v1/keys/sam/dec_keys?key_ID=${keys[0].key_ID}`, {
      headers: { Authorization: "sunny" },
    });
    expect(dec.status).toBe(200);
    expect(dec.headers.get("cache-control")).toBe("no-store");
    expect(dec.headers.get("etag")).toBeNull();
    expect(((await dec.json()) as { keys: unknown }).keys).toEqual(keys);
  });

  test("a stocked key is never handed to another SAE pair, and another slave SAE cannot fetch it", async () => {
    const sam = net.carol.etsi("sam");
    for (let i = 0; i < 3; i++) await sam.getKey("sunny");
    await waitFor(() => keysStatus(net.carol).stocked > 0, refillWaitMs, "a stock for sam -> sunny");
    const forSusan = await sam.getKey("susan");
    expect(batchSiblings(forSusan.keys[0].key_ID)).toEqual([]); // on demand, not from sunny's stock
    const forSunny = await sam.getKey("sunny");
    const id = forSunny.keys[0].key_ID;
    expect(batchSiblings(id).length).toBeGreaterThan(1);
    const wrong = await net.curtis
      .etsi("susan")
      .getKeyWithKeyId("sam", id)
      .catch((e: unknown) => e);
    expect((wrong as EtsiApiError).status).toBe(401);
    expect((await net.curtis.etsi("sunny").getKeyWithKeyId("sam", id)).keys).toEqual(forSunny.keys);
  });

  test("with fewer than k hubs up the stock is not used: the client notices the closed connections, 503 naming the hubs", async () => {
    const sam = net.carol.etsi("sam");
    const sunny = net.curtis.etsi("sunny");
    for (let i = 0; i < 3; i++) {
      const got = await sam.getKey("sunny");
      await sunny.getKeyWithKeyId("sam", got.keys[0].key_ID);
    }
    await waitFor(() => keysStatus(net.carol).stocked > 0, refillWaitMs, "a stock for sam -> sunny");
    const stocked = keysStatus(net.carol).stocked;
    for (const h of net.hubs.slice(0, 3)) await h.down();
    // The hubs' connections closed: carol no longer counts them as known good.
    await waitFor(() => net.carol.client.peerHubs.filter((h) => h.lastOkAt === 0).length >= 3, refillWaitMs, "carol to notice");
    const refused = await sam.getKey("sunny").catch((e: unknown) => e as EtsiApiError);
    expect((refused as EtsiApiError).status).toBe(503);
    expect((refused as EtsiApiError).message).toMatch(/hubs/);
    expect(keysStatus(net.carol).stocked).toBe(stocked); // nothing handed out from the stock
    expect((net.carol.client.mgmtStatus().keys as { stock_misses: { hubs: number } }).stock_misses.hubs).toBeGreaterThan(0);
    // Back up: the stock serves again, and its keys reach the slave.
    for (const h of net.hubs.slice(0, 3)) await h.up();
    await net.carol.client.whenRegistered();
    await net.curtis.client.whenRegistered();
    await waitFor(
      async () => {
        const got = await sam.getKey("sunny");
        expect((await sunny.getKeyWithKeyId("sam", got.keys[0].key_ID)).keys).toEqual(got.keys);
        return batchSiblings(got.keys[0].key_ID).length > 1;
      },
      refillWaitMs,
      "a key from the stock again",
    );
  });
});
