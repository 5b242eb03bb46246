/**
 * Reliability: a dec_keys that fails because too few hubs answer must not lose the key. The hubs
 * that did answer keep their shares until this client acknowledges them (the `ack` extension);
 * the client also keeps those decrypted shares in memory (partial-shares.ts), so that a retry after
 * the other hub is back completes the key; once delivered, the key is acknowledged and the hubs
 * delete their shares. Shares on exactly k = 3 hubs (two were down when the key was made), one of
 * them down at the first dec_keys.
 */
import { waitFor } from "../harness";
import { EtsiApiError } from "@dske/protocol";
import { PartialShares } from "../../src/partial-shares";
import { useNetwork } from "./net";

const net = useNetwork({ client: { gather: { heldKeyTtlMs: 30_000 } } });

test("a key whose dec_keys failed (a hub down) is delivered identically on retry once the hub is back", async () => {
  const [hank, helen, hilary, holly, hugo] = net.hubs;
  await holly.down();
  await hugo.down();
  const got = await net.carol.etsi("sam").getKey("sunny");
  const id = got.keys[0].key_ID;
  await waitFor(() => [hank, helen, hilary].every((h) => h.hub.status().shares.some((s) => s.key_id === id)), 20_000, "shares on 3 hubs");
  await hilary.down();
  const first = await net.curtis
    .etsi("sunny")
    .getKeyWithKeyId("sam", id)
    .catch((e: unknown) => e);
  expect(first).toBeInstanceOf(EtsiApiError);
  expect((first as EtsiApiError).status).toBe(503);
  // hank and helen released their shares to curtis and keep them until curtis acknowledges.
  expect([hank, helen].map((h) => h.hub.status().shares.find((s) => s.key_id === id)?.pending_ack)).toEqual([["curtis"], ["curtis"]]);
  for (const h of [hilary, holly, hugo]) await h.up();
  await net.curtis.client.whenRegistered(5);
  const again = await net.curtis.etsi("sunny").getKeyWithKeyId("sam", id);
  expect(again.keys).toEqual(got.keys);
  await net.curtis.client.flushAcks();
  expect(net.hubs.map((h) => h.hub.status().shares.some((s) => s.key_id === id))).toEqual([false, false, false, false, false]);
});

describe("PartialShares", () => {
  it("keeps copies, hands them out once, zeroes on expiry and clear", () => {
    const p = new PartialShares(1000);
    const y = Uint8Array.of(1, 2, 3);
    p.keep("a", [{ x: 1, y, source: "hank" }]);
    y.fill(0); // the caller zeroes its own copy
    expect(p.take("a")).toEqual([{ x: 1, y: Uint8Array.of(1, 2, 3), source: "hank" }]);
    expect(p.take("a")).toBeUndefined();
    p.keep("b", [{ x: 2, y: Uint8Array.of(9), source: "helen" }]);
    p.sweep(Date.now() + 2000);
    expect(p.size).toBe(0);
    p.keep("c", [{ x: 3, y: Uint8Array.of(7), source: "hilary" }]);
    p.clear();
    expect(p.take("c")).toBeUndefined();
  });
});
