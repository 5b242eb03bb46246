/**
 * System: a topology with `key_source: psrd` (keys derived from PSRD, no CSPRNG on the key path)
 * and `allowed_auth_schemes: [gf128]` (no hmac-sha256 fallback), as real processes via dske-cli:
 * key pairs work; every hub and client uses gf128 and `dske-cli status` shows it per peer; hubs
 * refuse a client that proposes hmac-sha256 or no scheme (a v1 client).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { keyPair, runningTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

// The harness sets top-level scalars only: the list-valued setting is rewritten before start.
const t = runningTopology(
  18690,
  {},
  { beforeStart: (top) => writeFileSync(top.configFile, psrdGf128Only(readFileSync(top.configFile, "utf8"))) },
);

function psrdGf128Only(yaml: string): string {
  return yaml
    .replace(/^key_source:.*$/m, "key_source: psrd")
    .replace(/^allowed_auth_schemes:.*\n {2}- gf128 .*$/m, "allowed_auth_schemes: [gf128]");
}

describe("key_source psrd, allowed_auth_schemes [gf128]", () => {
  it("the config says so, and the clients were started with --key-source psrd", () => {
    const yaml = readFileSync(t.configFile, "utf8");
    expect(yaml).toMatch(/^key_source: psrd$/m);
    expect(yaml).toMatch(/^allowed_auth_schemes: \[gf128\]$/m);
    const log = readFileSync(`${t.stateDir}/logs/carol.log`, "utf8");
    expect(log).toMatch(/--key-source psrd/);
    expect(log).toMatch(/--auth-schemes gf128(\s|$)/m);
  });

  it.each([
    ["sam", "sunny", 256, 1],
    ["serena", "sofia", 128, 5],
    ["susan", "sam", 4096, 2],
  ] as const)("%s -> %s: %i-bit keys x%i, identical on both sides", async (m, s, size, number) => {
    const { enc, dec } = await keyPair(t, m, s, { size, number });
    expect(enc).toHaveLength(number);
    expect(dec[s]).toEqual(enc);
    for (const k of enc) expect(Buffer.from(k.key, "base64")).toHaveLength(size / 8);
  });

  it("dske-cli status --verbose shows gf128 for every peer of every node", async () => {
    const r = await t.cli("status", "--verbose");
    expect(r.code).toBe(0);
    const peerLines = r.out.filter((l) => / auth /.test(l));
    expect(peerLines.length).toBe(2 * 5 * 5); // each hub lists 5 clients, each client 5 hubs
    for (const l of peerLines) expect(l).toMatch(/ auth gf128 /);
    const hub = (await t.status("hank")) as { auth_schemes: string[] };
    expect(hub.auth_schemes).toEqual(["gf128"]);
  });

  it("hubs refuse the hmac-sha256 fallback: a client proposing it, or no scheme (v1), is not registered", async () => {
    const url = `http://127.0.0.1:${t.node("hank").port}/hub/hank/dske/oob/v1/registration`;
    const operator = { headers: { Authorization: `Bearer ${t.credential().token}` } };
    // Without any credential nobody registers at all (401); a name outside the acceptance policy
    // is refused even for the operator (403); a topology client proposing hmac-sha256 or no scheme
    // (v1) is refused by the scheme negotiation (gf128 only).
    const anon = await t.http.put(url, { client_name: "mallory", encryptor_names: ["eve"], auth_scheme: "gf128" });
    expect(anon.status).toBe(401);
    const outsider = await t.http.put(url, { client_name: "mallory", encryptor_names: ["eve"], auth_scheme: "gf128" }, operator);
    expect(outsider.status).toBe(403);
    expect((outsider.data as { message: string }).message).toMatch(/acceptance policy/);
    for (const body of [
      { client_name: "connie", encryptor_names: ["sofia"], auth_scheme: "hmac-sha256" },
      { client_name: "connie", encryptor_names: ["sofia"] },
    ]) {
      const r = await t.http.put(url, body, operator);
      expect(r.status).toBe(400);
      expect((r.data as { message: string }).message).toMatch(/gf128/);
    }
    const hub = (await t.status("hank")) as { peer_clients: { client_name: string; auth_scheme: string }[] };
    expect(hub.peer_clients.map((c) => c.client_name)).not.toContain("mallory");
    expect(hub.peer_clients.find((c) => c.client_name === "connie")?.auth_scheme).toBe("gf128");
  });
});
