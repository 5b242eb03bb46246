/**
 * System: keys between every (master, slave) pair of encryptors of the default topology, key sizes
 * 128/256/4096 bits and number 1/50 spread over the pairs, multicast, and the CLI's etsi-qkd verbs.
 * The topology sets `etsi_anonymous_single_sae: true`: clients with one SAE also take calls
 * without Authorization (the reference's calls); every other test names its SAE.
 */
import { keyPair, runningTopology, SYSTEM_TIMEOUT, UUID_RE, type EtsiKey } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = runningTopology(18200, { etsi_anonymous_single_sae: "true" });
const SAES = ["sam", "serena", "sofia", "sunny", "susan"];
const SIZES = [128, 256, 4096];

const pairs = SAES.flatMap((m) => SAES.filter((s) => s !== m).map((s) => [m, s] as const));
const cases = pairs.map(([master, slave], i) => ({
  master,
  slave,
  size: SIZES[i % 3],
  number: i % 3 !== 2 && i % 5 === 0 ? 50 : 1,
}));

describe("a key pair for every (master, slave) pair of encryptors", () => {
  it("covers all 20 ordered pairs, every size and both numbers", () => {
    expect(cases).toHaveLength(20);
    expect(new Set(cases.map((c) => c.size))).toEqual(new Set(SIZES));
    expect(new Set(cases.map((c) => c.number))).toEqual(new Set([1, 50]));
  });

  it.each(cases)("$master -> $slave: $number key(s) of $size bits", async ({ master, slave, size, number }) => {
    const { enc, dec } = await keyPair(t, master, slave, { size, number });
    expect(enc).toHaveLength(number);
    for (const k of enc) {
      expect(k.key_ID).toMatch(UUID_RE);
      expect(Buffer.from(k.key, "base64")).toHaveLength(size / 8);
      expect(Buffer.from(k.key, "base64").toString("base64")).toBe(k.key); // standard, padded base64
    }
    expect(new Set(enc.map((k) => k.key_ID)).size).toBe(number);
    expect(new Set(enc.map((k) => k.key)).size).toBe(number);
    expect(dec[slave]).toEqual(enc);
  });
});

describe("multicast (additional_slave_SAE_IDs)", () => {
  it("sam -> sunny and serena: both slaves get the same keys, once each", async () => {
    const { enc, dec } = await keyPair(t, "sam", "sunny", { size: 256, number: 3, additional: ["serena"] });
    expect(dec.sunny).toEqual(enc);
    expect(dec.serena).toEqual(enc);
    // A third SAE that was not named learns nothing.
    const other = await t.http.get(t.etsiUrl(t.node("connie"), "sam", "dec_keys"), {
      params: { key_ID: enc[0].key_ID },
      headers: { Authorization: "sofia" },
    });
    expect([400, 401]).toContain(other.status);
    expect(JSON.stringify(other.data)).not.toContain(enc[0].key);
  });

  it("two slaves on the same client (sunny and susan on curtis)", async () => {
    const { enc, dec } = await keyPair(t, "sofia", "sunny", { size: 128, additional: ["susan"] });
    expect(dec.sunny).toEqual(enc);
    expect(dec.susan).toEqual(enc);
  });
});

describe("etsi_anonymous_single_sae: calls without Authorization, as the reference makes them", () => {
  it("carol (one SAE) gives sam's key, celia (one SAE) gives it to serena; curtis (two SAEs) answers 401", async () => {
    const enc = await t.http.get(t.etsiUrl(t.node("carol"), "serena", "enc_keys"));
    expect(enc.status).toBe(200);
    const keys = (enc.data as { keys: EtsiKey[] }).keys;
    const dec = await t.http.get(t.etsiUrl(t.node("celia"), "sam", "dec_keys"), { params: { key_ID: keys[0].key_ID } });
    expect([dec.status, (dec.data as { keys: EtsiKey[] }).keys]).toEqual([200, keys]);
    const curtis = await t.http.get(t.etsiUrl(t.node("curtis"), "sam", "status"));
    expect(curtis.status).toBe(401);
    // A header naming an SAE the KME does not host is refused as always.
    expect((await t.http.get(t.etsiUrl(t.node("carol"), "sunny", "status"), { headers: { Authorization: "serena" } })).status).toBe(401);
  });

  it("the clients' status flags the mode (dske-cli passed --allow-anonymous-sae to the one-SAE clients only)", async () => {
    expect((await t.status("carol")).etsi_anonymous_sae).toBe("sam");
    expect(await t.status("curtis")).not.toHaveProperty("etsi_anonymous_sae");
    expect(await t.status("cindy")).not.toHaveProperty("etsi_anonymous_sae");
  });
});

describe("dske-cli etsi-qkd", () => {
  it("get-key-pair: the reference's lines and 'Key values match'", async () => {
    const r = await t.cli("etsi-qkd", "sam", "sunny", "get-key-pair");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(
      "Invoke ETSI QKD Get Key API on client (KME) carol port 18205 master encryptor (SAE) sam slave encryptor (SAE) sunny:",
    );
    const i = r.out.indexOf(
      "Invoke ETSI QKD Get Key with Key IDs API on client (KME) curtis port 18209 master encryptor (SAE) sam slave encryptor (SAE) sunny:",
    );
    expect(i).toBeGreaterThan(0);
    const enc = JSON.parse(r.out.slice(1, i).join("\n")) as { keys: EtsiKey[] };
    const dec = JSON.parse(r.out.slice(i + 1, -1).join("\n")) as { keys: EtsiKey[] };
    expect(dec.keys).toEqual(enc.keys);
    expect(r.out.at(-1)).toBe("Key values match");
  });

  it("get-key --size --number, then get-key-with-key-ids KEY_ID... on the slave", async () => {
    const r = await t.cli("etsi-qkd", "serena", "susan", "get-key", "--size", "512", "--number", "2");
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(
      "Invoke ETSI QKD Get Key API on client (KME) celia port 18206 master encryptor (SAE) serena slave encryptor (SAE) susan:",
    );
    const enc = JSON.parse(r.out.slice(1).join("\n")) as { keys: EtsiKey[] };
    expect(enc.keys.map((k) => Buffer.from(k.key, "base64").length)).toEqual([64, 64]);
    const d = await t.cli("etsi-qkd", "serena", "susan", "get-key-with-key-ids", ...enc.keys.map((k) => k.key_ID));
    expect(d.code).toBe(0);
    expect(d.out[0]).toBe(
      "Invoke ETSI QKD Get Key with Key IDs API on client (KME) curtis port 18209 master encryptor (SAE) serena slave encryptor (SAE) susan:",
    );
    expect((JSON.parse(d.out.slice(1).join("\n")) as { keys: EtsiKey[] }).keys).toEqual(enc.keys);
    // Already delivered: a clear failure and a non-zero exit.
    const again = await t.cli("etsi-qkd", "serena", "susan", "get-key-with-key-ids", enc.keys[0].key_ID);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/ETSI QKD Get Key with Key IDs API on client \(KME\) curtis failed: HTTP 400: .+/);
  });

  it("get-status: the ETSI status of the master's KME", async () => {
    const r = await t.cli("etsi-qkd", "sam", "sunny", "get-status");
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(
      "Invoke ETSI QKD Status API on client (KME) carol port 18205 master encryptor (SAE) sam slave encryptor (SAE) sunny:",
    );
    const s = JSON.parse(r.out.slice(1).join("\n")) as Record<string, unknown>;
    expect(s).toMatchObject({ source_KME_ID: "carol", target_KME_ID: "curtis", master_SAE_ID: "sam", slave_SAE_ID: "sunny" });
    for (const f of [
      "key_size",
      "stored_key_count",
      "max_key_count",
      "max_key_per_request",
      "max_key_size",
      "min_key_size",
      "max_SAE_ID_count",
    ]) {
      expect(Number.isInteger(s[f])).toBe(true);
    }
    expect(s.stored_key_count as number).toBeGreaterThan(0);
    expect(s.stored_key_count as number).toBeLessThanOrEqual(s.max_key_count as number);
    expect(s.min_key_size as number).toBeLessThanOrEqual(s.key_size as number);
    expect(s.key_size as number).toBeLessThanOrEqual(s.max_key_size as number);
  });

  it("unknown SAEs are named; ETSI errors give a non-zero exit", async () => {
    const r = await t.cli("etsi-qkd", "sam", "nobody", "get-key-pair");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown slave encryptor (SAE) 'nobody'");
    const bad = await t.cli("etsi-qkd", "sam", "sunny", "get-key", "--size", "100");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ETSI QKD Get Key API on client \(KME\) carol failed: HTTP 400: .*8/);
    const usage = await t.cli("etsi-qkd", "sam", "sunny", "get-key", "--size", "ten");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("expected a key size in bits");
  });

  it("get-key-pair through the built bin exits 0", async () => {
    const r = await t.bin("etsi-qkd", "sunny", "sam", "get-key-pair", "--size", "256");
    expect(r.code).toBe(0);
    expect(r.out.at(-1)).toBe("Key values match");
  });
});
