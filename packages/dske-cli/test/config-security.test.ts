/** Config: allowed_auth_schemes (and its older spelling auth_schemes) and key_source, validated with zod. */
import { ConfigError, parseConfig } from "../src/config";
import { nodeArgs } from "../src/node-command";
import { StateDir } from "../src/state-dir";
import { Topology } from "../src/topology";

const MINIMAL = "hubs:\n  - name: h1\nclients:\n  - name: c1\n    encryptors:\n      - name: s1\nmin_nr_shares: 1\n";

/** expect.stringMatching, typed as the asymmetric matcher it is rather than left untyped. */
function stringMatching(re: RegExp): unknown {
  return expect.stringMatching(re);
}

function issues(text: string): { path: string; message: string }[] {
  try {
    parseConfig(text, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => ({ path: i.path, message: i.message }));
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("allowed_auth_schemes", () => {
  it("defaults to [gf128] (no hmac-sha256 fallback); hubs and clients get it", () => {
    const cfg = parseConfig(MINIMAL, "t.yaml");
    expect(cfg.auth_schemes).toEqual(["gf128"]);
    const topo = new Topology(cfg);
    const state = new StateDir("/tmp/x");
    for (const n of topo.nodes) {
      const args = nodeArgs(n, topo, state);
      expect(args[args.indexOf("--auth-schemes") + 1]).toBe("gf128");
    }
  });

  it("[gf128, hmac-sha256] (for reference peers) allows the fallback for hubs and clients", () => {
    const cfg = parseConfig(`allowed_auth_schemes: [gf128, hmac-sha256]\n${MINIMAL}`, "t.yaml");
    expect(cfg.auth_schemes).toEqual(["gf128", "hmac-sha256"]);
    const topo = new Topology(cfg);
    const state = new StateDir("/tmp/x");
    expect(nodeArgs(topo.hubs[0], topo, state).join(" ")).toContain("--auth-schemes gf128,hmac-sha256");
    expect(nodeArgs(topo.clients[0], topo, state).join(" ")).toContain("--auth-schemes gf128,hmac-sha256");
  });

  it("auth_schemes is the older spelling; both at once is an error; bad values are named", () => {
    expect(parseConfig(`auth_schemes: [hmac-sha256]\n${MINIMAL}`, "t.yaml").auth_schemes).toEqual(["hmac-sha256"]);
    expect(issues(`auth_schemes: [gf128]\nallowed_auth_schemes: [gf128]\n${MINIMAL}`)).toEqual([
      { path: "auth_schemes", message: stringMatching(/older spelling of allowed_auth_schemes/) },
    ]);
    expect(issues(`allowed_auth_schemes: [gf128, md5]\n${MINIMAL}`)[0].path).toBe("allowed_auth_schemes[1]");
    expect(issues(`allowed_auth_schemes: []\n${MINIMAL}`)[0].message).toMatch(/at least one/);
  });
});

describe("key_source", () => {
  it("defaults to random (no client option); psrd is passed to clients only", () => {
    const cfg = parseConfig(MINIMAL, "t.yaml");
    expect(cfg.key_source).toBe("random");
    const topo = new Topology(cfg);
    expect(nodeArgs(topo.clients[0], topo, new StateDir("/tmp/x"))).not.toContain("--key-source");
    const psrd = new Topology(parseConfig(`key_source: psrd\n${MINIMAL}`, "t.yaml"));
    const args = nodeArgs(psrd.clients[0], psrd, new StateDir("/tmp/x"));
    expect(args.slice(args.indexOf("--key-source"), args.indexOf("--key-source") + 2)).toEqual(["--key-source", "psrd"]);
    expect(nodeArgs(psrd.hubs[0], psrd, new StateDir("/tmp/x"))).not.toContain("--key-source");
  });

  it("anything else is an error naming the choices", () => {
    expect(issues(`key_source: urandom\n${MINIMAL}`)).toEqual([{ path: "key_source", message: "expected random or psrd" }]);
  });
});

describe("key stock (key_stock_ahead_ms, key_stock_ttl_ms)", () => {
  it("defaults reach every client, not the hubs; 0 turns the stock off", () => {
    const topo = new Topology(parseConfig(MINIMAL, "t.yaml"));
    const args = nodeArgs(topo.clients[0], topo, new StateDir("/tmp/x"));
    expect(args.slice(args.indexOf("--key-stock-ahead-ms"), args.indexOf("--key-stock-ahead-ms") + 4)).toEqual([
      "--key-stock-ahead-ms",
      "2000",
      "--key-stock-ttl-ms",
      "20000",
    ]);
    expect(nodeArgs(topo.hubs[0], topo, new StateDir("/tmp/x"))).not.toContain("--key-stock-ahead-ms");
    const off = new Topology(parseConfig(`key_stock_ahead_ms: 0\n${MINIMAL}`, "t.yaml"));
    const offArgs = nodeArgs(off.clients[0], off, new StateDir("/tmp/x"));
    expect(offArgs[offArgs.indexOf("--key-stock-ahead-ms") + 1]).toBe("0");
  });

  it("a stocked key must die before its shares: ttl >= share timeout is an error naming both; bad numbers are named", () => {
    expect(issues(`share_timeout_secs: 10\nkey_stock_ttl_ms: 10000\n${MINIMAL}`)).toEqual([
      { path: "key_stock_ttl_ms", message: stringMatching(/share_timeout_secs/) },
    ]);
    // With the stock off the lifetime does not matter.
    expect(
      parseConfig(`share_timeout_secs: 10\nkey_stock_ttl_ms: 10000\nkey_stock_ahead_ms: 0\n${MINIMAL}`, "t.yaml").key_stock_ttl_ms,
    ).toBe(10000);
    expect(issues(`key_stock_ahead_ms: -1\n${MINIMAL}`)[0]).toEqual({
      path: "key_stock_ahead_ms",
      message: stringMatching(/0 to 60000/),
    });
    expect(issues(`key_stock_ttl_ms: soon\n${MINIMAL}`)[0].path).toBe("key_stock_ttl_ms");
  });
});
