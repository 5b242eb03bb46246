/**
 * Clients on different subsets of the topology's hubs (ClientOptions.hubPositions) with different
 * k (gatherMinNrShares): carol uses hank, helen, hilary, holly with k = 2; curtis uses helen,
 * hilary, holly, hugo with k = 3 (they share three hubs, as the config check of dske-cli demands). Keys flow both ways, with both key sources; without the positions the
 * shared hubs' shares carry the wrong x and no key is handed out.
 */
import { EtsiApiError } from "@dske/protocol";
import { startClient, startHub, waitFor, type TestClient, type TestHub } from "./harness";

const HUBS = ["hank", "helen", "hilary", "holly", "hugo"];
let hubs: TestHub[];
const clients: TestClient[] = [];

beforeAll(async () => {
  hubs = await Promise.all(HUBS.map((n) => startHub(n)));
});

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const h of hubs) {
    await h.down();
    await h.hub.close();
  }
});

const directory = { sam: "carol", sunny: "curtis" };
const urls = (names: string[]) => names.map((n) => hubs[HUBS.indexOf(n)].url);

async function pair(withPositions: boolean): Promise<{ carol: TestClient; curtis: TestClient }> {
  const carolHubs = ["hank", "helen", "hilary", "holly"];
  const curtisHubs = ["helen", "hilary", "holly", "hugo"];
  const carol = await startClient({
    name: withPositions ? "carol" : "carol2",
    encryptors: [withPositions ? "sam" : "sam2"],
    hubs: urls(carolHubs),
    minNrShares: 2,
    keySource: "psrd",
    kmeDirectory: withPositions ? directory : { sam2: "carol2", sunny2: "curtis2" },
    ...(withPositions ? { hubPositions: [0, 1, 2, 3], gatherMinNrShares: 3 } : {}),
  });
  const curtis = await startClient({
    name: withPositions ? "curtis" : "curtis2",
    encryptors: [withPositions ? "sunny" : "sunny2"],
    hubs: urls(curtisHubs),
    minNrShares: 3,
    kmeDirectory: withPositions ? directory : { sam2: "carol2", sunny2: "curtis2" },
    ...(withPositions ? { hubPositions: [1, 2, 3, 4] } : {}),
  });
  clients.push(carol, curtis);
  await carol.client.whenRegistered();
  await curtis.client.whenRegistered();
  return { carol, curtis };
}

/** The master returns after k acknowledgements; wait until every hub of the master stored the shares. */
async function stored(keyIds: string[], names: string[]): Promise<void> {
  const at = names.map((n) => hubs[HUBS.indexOf(n)]);
  await waitFor(() => at.every((h) => keyIds.every((id) => h.hub.status().shares.some((s) => s.key_id === id))), 20_000, "shares stored");
}

test("keys flow both ways between clients on different subsets and different k", async () => {
  const { carol, curtis } = await pair(true);
  // carol (k 2, psrd key source) -> curtis: curtis gathers its 3 shared hubs' shares.
  const got = await carol.etsi("sam").getKeys("sunny", { number: 3, size: 256 });
  await stored(
    got.keys.map((k) => k.key_ID),
    ["hank", "helen", "hilary", "holly"],
  );
  const back = await curtis.etsi("sunny").getKeysWithKeyIds(
    "sam",
    got.keys.map((k) => k.key_ID),
  );
  expect(back.keys).toEqual(got.keys);
  // curtis (k 3, random key source) -> carol: carol gathers 3 (gatherMinNrShares), not its own 2.
  const rev = await curtis.etsi("sunny").getKey("sam", { size: 128 });
  await stored([rev.keys[0].key_ID], ["helen", "hilary", "holly", "hugo"]);
  const revBack = await carol.etsi("sam").getKeyWithKeyId("sunny", rev.keys[0].key_ID);
  expect(revBack.keys).toEqual(rev.keys);
});

test("without hub positions the shared hubs' shares carry the wrong x: no key, an error", async () => {
  const { carol, curtis } = await pair(false);
  const got = await curtis.etsi("sunny2").getKey("sam2");
  await stored([got.keys[0].key_ID], ["helen", "hilary", "holly", "hugo"]);
  const err = await carol
    .etsi("sam2")
    .getKeyWithKeyId("sunny2", got.keys[0].key_ID)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(EtsiApiError);
  expect([400, 503]).toContain((err as EtsiApiError).status);
});
