import axios from "axios";
import { startEmbeddedNetwork, type EmbeddedNetwork } from "../src/network";

describe("example: hubs and clients embedded in one existing Express app", () => {
  let net: EmbeddedNetwork;
  /** Set once beforeAll started the network: afterAll closes only what started. */
  let started: EmbeddedNetwork | undefined;
  beforeAll(async () => {
    net = started = await startEmbeddedNetwork();
  });
  afterAll(async () => {
    await started?.close();
  });

  it("keeps the app's own routes working", async () => {
    const r = await axios.get(`${net.baseUrl}/healthz`);
    expect(r.data).toEqual({ ok: true });
  });

  it("establishes a key pair sam -> sunny over ETSI 014 through the mounted routers", async () => {
    const { keys } = await net.sam.getKeys("sunny", { number: 2, size: 256 });
    expect(keys).toHaveLength(2);
    const got = await net.sunny.getKeysWithKeyIds(
      "sam",
      keys.map((k) => k.key_ID),
    );
    expect(got.keys.map((k) => k.key)).toEqual(keys.map((k) => k.key));
    expect(Buffer.from(keys[0].key, "base64")).toHaveLength(32);
  });

  it("serves every hub's and client's management status on the shared port, to the operator only", async () => {
    const headers = { Authorization: `Bearer ${net.operatorToken}` };
    for (const h of ["hank", "hugo"]) {
      const r = await axios.get<{ name: string }>(`${net.baseUrl}/hub/${h}/mgmt/v1/status`, { headers });
      expect(r.data.name).toBe(h);
      await expect(axios.get(`${net.baseUrl}/hub/${h}/mgmt/v1/status`)).rejects.toMatchObject({ response: { status: 401 } });
    }
    const r = await axios.get<{ name: string }>(`${net.baseUrl}/client/carol/mgmt/v1/status`, { headers });
    expect(r.data.name).toBe("carol");
    await expect(axios.get(`${net.baseUrl}/client/carol/mgmt/v1/status`)).rejects.toMatchObject({ response: { status: 401 } });
  });
});
