/** Pure helpers: the status summary and the key-pair comparison. */
import { parseConfig } from "../src/config";
import { compareKeys, EtsiCaller, type EtsiResponse } from "../src/etsi-caller";
import { EtsiCommand } from "../src/etsi-command";
import { CapturedOutput } from "../src/output";
import { formatNodeSummary, printStatusSummary } from "../src/status-command";
import { Topology, type NodeSpec } from "../src/topology";

const hub: NodeSpec = { kind: "hub", name: "hank", port: 8100, encryptors: [] };
const client: NodeSpec = { kind: "client", name: "carol", port: 8105, encryptors: ["sam"] };
const pools = (cu: number, hu: number) => ({
  client_owned: { blocks: 3, size: 3000, used: cu, available: 3000 - cu },
  hub_owned: { blocks: 2, size: 2000, used: hu, available: 2000 - hu },
});

describe("status summary", () => {
  it("a hub: peers with SAEs, auth scheme, both PSRD pools, stored shares", () => {
    const lines = formatNodeSummary({
      node: hub,
      running: true,
      status: {
        name: "hank",
        peer_clients: [{ client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128", pools: pools(112, 64) }],
        shares: [{ master_client_name: "carol", key_id: "x" }],
      },
    });
    expect(lines[0]).toBe("Hub hank on port 8100: running");
    expect(lines[1]).toBe("  peer clients: 1");
    expect(lines[2]).toMatch(
      /carol\s+SAEs sam\s+auth gf128\s+client-owned PSRD: 2888 B left, 112 B used, 3 blocks; hub-owned: 1936 B left, 64 B used, 2 blocks/,
    );
    expect(lines[3]).toBe("  shares stored: 1");
  });

  it("a client: registration per hub, pools (also missing ones), key counts", () => {
    const lines = formatNodeSummary({
      node: client,
      running: true,
      status: {
        name: "carol",
        encryptor_names: ["sam"],
        peer_hubs: [
          { hub_name: "hank", registered: true, auth_scheme: "gf128", pools: pools(0, 0) },
          { hub_name: "helen", registered: false, auth_scheme: null, pools: { client_owned: null, hub_owned: null } },
          {
            hub_name: "hilary",
            registered: true,
            auth_scheme: "hmac-sha256",
            notice: "reference hub: PSRD over the network, unauthenticated",
            pools: pools(0, 0),
          },
        ],
        keys: { issued: 3, delivered: 1 },
      },
    });
    expect(lines).toEqual([
      "Client carol on port 8105: running",
      "  encryptors: sam",
      "  peer hubs: 2 of 3 registered",
      expect.stringMatching(/^ {4}hank\s+registered\s+auth gf128\s+client-owned PSRD: 3000 B left.*blocks$/),
      expect.stringMatching(/^ {4}helen\s+NOT registered\s+auth \?\s+client-owned PSRD: none; hub-owned: none$/),
      // A reference hub (our client's notice) is flagged.
      expect.stringMatching(
        /^ {4}hilary\s+registered\s+auth hmac-sha256.*blocks \(reference hub: PSRD over the network, unauthenticated\)$/,
      ),
      "  keys: issued 3, delivered 1",
    ]);
  });

  it("a node that is down, and an unrecognised document", () => {
    expect(formatNodeSummary({ node: hub, running: false, detail: "ECONNREFUSED" })).toEqual([
      "Hub hank on port 8100: not running (ECONNREFUSED)",
    ]);
    expect(formatNodeSummary({ node: hub, running: true, status: { nom: 1 } })[1]).toContain("unrecognised status document");
  });

  it("a remote node by host:port, a node flagged insecure, and the topology's insecure setting", () => {
    const remote: NodeSpec = { ...hub, host: "fd00::11", port: 8100 };
    expect(formatNodeSummary({ node: remote, running: false, detail: "ETIMEDOUT", remote: true })).toEqual([
      "Hub hank on [fd00::11]:8100 (remote): not running (ETIMEDOUT)",
    ]);
    const lines = formatNodeSummary({
      node: { ...hub, host: "10.0.0.1" },
      running: true,
      status: { name: "hank", insecure: true, peer_clients: [] },
    });
    expect(lines[0]).toBe("Hub hank on 10.0.0.1:8100: running (insecure: true, plain HTTP off loopback)");
    const out = new CapturedOutput();
    printStatusSummary([{ node: hub, running: false, detail: "ECONNREFUSED" }], out, true);
    expect(out.lines[0]).toBe("Topology: insecure: true (plain HTTP off loopback allowed by the configuration)");
  });
});

describe("compareKeys", () => {
  const a = { key_ID: "1", key: "AAAA" };
  const b = { key_ID: "2", key: "BBBB" };
  it("accepts the same keys in any order", () => {
    expect(compareKeys([a, b], [b, a])).toEqual([]);
  });
  it("reports different values, missing and extra keys", () => {
    expect(
      compareKeys(
        [a, b],
        [
          { key_ID: "1", key: "AAAB" },
          { key_ID: "3", key: "CCCC" },
        ],
      ),
    ).toEqual([
      { keyId: "1", problem: "master key AAAA != slave key AAAB" },
      { keyId: "2", problem: "missing from the slave's keys" },
      { keyId: "3", problem: "returned to the slave but not to the master" },
    ]);
  });
});

/** An ETSI "server" whose slave side returns a different key value. */
class LyingCaller extends EtsiCaller {
  override reachable(): Promise<void> {
    return Promise.resolve();
  }
  override getKey(): Promise<EtsiResponse> {
    return Promise.resolve({ status: 200, body: { keys: [{ key_ID: "k1", key: "AAAAAAAAAAA=" }] } });
  }
  override getKeyWithKeyIds(): Promise<EtsiResponse> {
    return Promise.resolve({ status: 200, body: { keys: [{ key_ID: "k1", key: "AAAAAAAAAAE=" }] } });
  }
}

describe("etsi-qkd get-key-pair on a mismatch", () => {
  it("prints a clear report and fails", async () => {
    const topology = new Topology(
      parseConfig(
        "hubs: [{name: h}]\nmin_nr_shares: 1\nclients:\n  - {name: a, encryptors: [{name: sa}]}\n  - {name: b, encryptors: [{name: sb}]}\n",
        "t.yaml",
      ),
    );
    const out = new CapturedOutput();
    await expect(new EtsiCommand(topology, out, new LyingCaller()).run("sa", "sb", "get-key-pair")).rejects.toThrow(
      "key values do not match (1 problem)",
    );
    expect(out.lines.slice(-2)).toEqual([
      "Key values do NOT match:",
      "  slave sb: key_ID k1: master key AAAAAAAAAAA= != slave key AAAAAAAAAAE=",
    ]);
    expect(out.lines).not.toContain("Key values match");
  });
});
