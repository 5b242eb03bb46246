/**
 * Hub and client log lines carry their facts as fields, with a short constant message (one format
 * for both): a registration and a bad share, driven through a real in-process network (4 hubs,
 * k = 2, one hub corrupting the shares it hands out), with capturing loggers. The assertions are
 * on the fields, not on the message text; no field carries key, share or PSRD bytes.
 */
import { capturingLogger, type CapturedLine } from "@dske/protocol";
import { corruptShares } from "../../dske-hub/src/testing/faults";
import { startHub, startNetwork, waitFor, type TestNetwork } from "./harness";

const hubLines: Record<string, CapturedLine[]> = { hank: [], helen: [], hilary: [], holly: [] };
const clientLog = capturingLogger();
let net: TestNetwork;

beforeAll(async () => {
  net = await startNetwork({
    hubs: Object.keys(hubLines),
    k: 2,
    startHub: (name) => startHub(name, { logger: capturingLogger(hubLines[name]) }),
    client: { logger: clientLog },
  });
}, 120_000);

afterAll(async () => {
  await net.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test("registration: the hub logs the client and its scheme, the client logs the hub and its scheme", () => {
  for (const [hub, lines] of Object.entries(hubLines)) {
    for (const client of ["carol", "curtis"]) {
      // A client provisioned by its first bundle registers as an existing client: either line names it.
      const line = lines.find(
        (l) => l.fields.client === client && (l.message === "client registered" || l.message === "client provisioned"),
      );
      expect([hub, client, line]).toEqual([
        hub,
        client,
        { level: "info", message: line?.message, fields: { client, scheme: expect.any(String) as unknown } },
      ]);
    }
  }
  const registered = clientLog.lines.filter((l) => l.message === "registered with hub");
  expect(new Set(registered.map((l) => l.fields.hub))).toEqual(new Set(Object.keys(hubLines)));
  for (const l of registered) {
    expect(l).toEqual({
      level: "info",
      message: "registered with hub",
      fields: { hub: l.fields.hub, scheme: expect.any(String) as unknown, extensions: expect.any(Array) as unknown },
    });
  }
});

test("a bad share: the responder logs the hub and the key ID as fields, and the robust reconstruction names the bad hub", async () => {
  const helen = net.hubs.find((h) => h.name === "helen");
  if (!helen) throw new Error("no hub helen");
  const restore = corruptShares(helen.hub, () => 0x01);
  const enc = await net.carol.etsi("sam").getKey("sunny", { number: 1, size: 256 });
  const keyId = enc.keys[0].key_ID;
  try {
    await waitFor(() => net.hubs.every((h) => h.hub.status().shares.some((s) => s.key_id === keyId)), 20_000, "shares at every hub");
    const dec = await net.curtis.etsi("sunny").getKeysWithKeyIds("sam", [keyId]);
    expect(dec.keys).toEqual(enc.keys);
  } finally {
    restore();
  }
  const warnings = clientLog.lines.filter((l) => l.level === "warn");
  expect(warnings).toContainEqual({ level: "warn", message: "bad share from hub", fields: { hub: "helen", key_id: keyId } });
  const robust = warnings.find((l) => l.message === "key reconstructed robustly" && l.fields.key_id === keyId);
  expect(robust?.fields).toEqual({ key_id: keyId, reconstruction: expect.any(String) as unknown, bad_hubs: ["helen"] });
  expect(keyId).toMatch(UUID);
  // IDs, names and sizes only: no field of a line carries the key (or other bytes) in whatever encoding.
  const key = Buffer.from(enc.keys[0].key, "base64");
  const all = JSON.stringify([clientLog.lines, hubLines]);
  for (const encoded of [key.toString("base64"), key.toString("hex")]) expect(all).not.toContain(encoded);
});
