import path from "node:path";
import { loadConfig, parseConfig } from "../src/config";
import { reorderEtsiArgs } from "../src/cli";
import { distributionPlan, nodeArgs } from "../src/node-command";
import { StateDir } from "../src/state-dir";
import { isExternal, nodeBaseUrl, selectNodes, Topology, UnknownNodeError } from "../src/topology";

const topology = new Topology(loadConfig(path.resolve(__dirname, "../../../dske-config.yaml")));
const state = new StateDir("/st");

describe("topology of the default config", () => {
  it("numbers ports hubs first, then clients, from base_port", () => {
    expect(topology.nodes.map((n) => `${n.kind} ${n.name} ${n.port}`)).toEqual([
      "hub hank 8100",
      "hub helen 8101",
      "hub hilary 8102",
      "hub holly 8103",
      "hub hugo 8104",
      "client carol 8105",
      "client celia 8106",
      "client cindy 8107",
      "client connie 8108",
      "client curtis 8109",
    ]);
    expect(nodeBaseUrl(topology.hubs[0])).toBe("http://127.0.0.1:8100/hub/hank");
  });

  it("maps every SAE to its client", () => {
    expect(topology.kmeDirectory()).toEqual({ sam: "carol", serena: "celia", sofia: "connie", sunny: "curtis", susan: "curtis" });
    expect(topology.clientOfSae("susan")?.name).toBe("curtis");
    expect(topology.clientOfSae("nobody")).toBeUndefined();
  });

  it("builds the hub command line of SYSTEM.md", () => {
    expect(nodeArgs(topology.hubs[1], topology, state)).toEqual([
      "helen",
      "--port",
      "8101",
      "--state-dir",
      "/st/nodes/helen",
      "--operator-token-file",
      "/st/operator-token",
      // the node writes and rotates its own log (JSON lines)
      "--log-file",
      "/st/logs/helen.log",
      "--log-max-size",
      "10M",
      "--log-max-files",
      "5",
      "--host",
      "127.0.0.1",
      "--share-timeout-secs",
      "60",
      "--auth-schemes",
      "gf128",
      // acceptance policy: the topology's clients; PSRD only in bundles, carried by this hub's local distributor
      "--accept-clients",
      "carol,celia,cindy,connie,curtis",
      "--psrd-delivery",
      "bundle",
      "--max-clients",
      "1000",
      "--max-pool-bytes",
      "1073741824",
      "--max-pool-blocks",
      "4096",
      "--distribution-plan",
      "/st/distribution.json",
    ]);
  });

  it("builds the client command line of SYSTEM.md (all hub URLs, encryptors, thresholds)", () => {
    const curtis = topology.clients[4];
    const args = nodeArgs(curtis, topology, state);
    expect(args.slice(0, 5)).toEqual(["curtis", "--port", "8109", "--state-dir", "/st/nodes/curtis"]);
    const hubs = args.slice(args.indexOf("--hubs") + 1, args.indexOf("--hubs") + 6);
    expect(hubs).toEqual(topology.hubs.map((h) => `http://127.0.0.1:${h.port}/hub/${h.name}`));
    expect(args.slice(args.indexOf("--encryptors") + 1, args.indexOf("--encryptors") + 3)).toEqual(["sunny", "susan"]);
    const opt = (o: string) => args[args.indexOf(o) + 1];
    expect(opt("--start-request-psrd-threshold")).toBe("500");
    expect(opt("--stop-request-psrd-threshold")).toBe("2000");
    expect(opt("--get-psrd-block-size")).toBe("1000");
    expect(opt("--min-nr-shares")).toBe("3");
    expect(opt("--kme-directory")).toBe("/st/kme-directory.json");
    expect(opt("--psrd-delivery")).toBe("bundle");
    expect(opt("--initial-psrd-bytes")).toBe("65536");
    expect(opt("--psrd-wait-ms")).toBe("10000");
    // cindy has no encryptors: no --encryptors option at all.
    expect(nodeArgs(topology.clients[2], topology, state)).not.toContain("--encryptors");
  });
});

describe("a topology with reference-implementation nodes", () => {
  const mixed = new Topology(
    parseConfig(
      `allowed_auth_schemes: [gf128, hmac-sha256]
hubs:
  - name: hank
  - name: helen
    implementation: reference
  - name: hilary
clients:
  - name: carol
    encryptors:
      - name: sam
  - name: celia
    implementation: reference
    encryptors:
      - name: serena
      - name: sofia
  - name: curtis
    encryptors:
      - name: sunny
`,
      "mixed.yaml",
    ),
  );

  it("keeps the usual ports and marks the reference nodes external", () => {
    expect(mixed.nodes.map((n) => `${n.kind} ${n.name} ${n.port} ${isExternal(n) ? "external" : "ours"}`)).toEqual([
      "hub hank 8100 ours",
      "hub helen 8101 external",
      "hub hilary 8102 ours",
      "client carol 8103 ours",
      "client celia 8104 external",
      "client curtis 8105 ours",
    ]);
    expect(isExternal(topology.hubs[0])).toBe(false);
    expect(mixed.referenceSaes()).toEqual(["serena", "sofia"]);
    expect(topology.referenceSaes()).toEqual([]);
  });

  it("tells every client of ours the reference SAEs, and all hubs (reference ones too) with the topology's schemes", () => {
    for (const c of [mixed.clients[0], mixed.clients[2]]) {
      const args = nodeArgs(c, mixed, state);
      expect(args[args.indexOf("--reference-saes") + 1]).toBe("serena,sofia");
      expect(args[args.indexOf("--auth-schemes") + 1]).toBe("gf128,hmac-sha256");
      expect(args.slice(args.indexOf("--hubs") + 1, args.indexOf("--hubs") + 4)).toEqual([
        "http://127.0.0.1:8100/hub/hank",
        "http://127.0.0.1:8101/hub/helen",
        "http://127.0.0.1:8102/hub/hilary",
      ]);
    }
    // our hubs accept the reference clients; without reference clients no --reference-saes at all
    const hubArgs = nodeArgs(mixed.hubs[0], mixed, state);
    expect(hubArgs[hubArgs.indexOf("--accept-clients") + 1]).toBe("carol,celia,curtis");
    // ... and let only the reference ones enrol the reference's way (no proof, GET psrd)
    expect(hubArgs[hubArgs.indexOf("--reference-clients") + 1]).toBe("celia");
    expect(nodeArgs(topology.hubs[0], topology, state)).not.toContain("--reference-clients");
    expect(nodeArgs(topology.clients[4], topology, state)).not.toContain("--reference-saes");
  });

  it("tells every client of ours the reference hubs (no bundles from them, their wire); none without them", () => {
    for (const c of [mixed.clients[0], mixed.clients[2]]) {
      const args = nodeArgs(c, mixed, state);
      expect(args[args.indexOf("--reference-hubs") + 1]).toBe("helen");
    }
    expect(mixed.referenceHubs()).toEqual(["helen"]);
    expect(topology.referenceHubs()).toEqual([]);
    expect(nodeArgs(topology.clients[0], topology, state)).not.toContain("--reference-hubs");
    // The hubs of ours do not name the reference hub anywhere (each runs its own local distributor).
    for (const h of [mixed.hubs[0], mixed.hubs[2]]) expect(nodeArgs(h, mixed, state).join(" ")).not.toMatch(/helen/);
  });

  it("leaves reference clients out of the local distributors' plan (they install no bundles)", () => {
    expect(distributionPlan(mixed, state).clients.map((c) => c.name)).toEqual(["carol", "curtis"]);
    expect(distributionPlan(topology, state).clients).toHaveLength(5);
  });
});

describe("node selection", () => {
  it("selects everything without filters", () => {
    const s = selectNodes(topology, { clients: [], hubs: [] });
    expect(s.nodes).toHaveLength(10);
    expect(s.description).toBe("all nodes");
  });

  it("describes filters as the reference does (clients, then hubs)", () => {
    const s = selectNodes(topology, { clients: ["carol", "connie"], hubs: ["hank"] });
    expect(s.nodes.map((n) => n.name)).toEqual(["hank", "carol", "connie"]);
    expect(s.description).toBe("client carol, client connie, hub hank");
  });

  it("rejects unknown names, naming them", () => {
    expect(() => selectNodes(topology, { clients: ["corrie"], hubs: ["hank", "harry"] })).toThrow(UnknownNodeError);
    expect(() => selectNodes(topology, { clients: ["corrie"], hubs: ["harry"] })).toThrow(/unknown client 'corrie', hub 'harry'/);
    // A hub name given as a client is unknown too.
    expect(() => selectNodes(topology, { clients: ["hank"], hubs: [] })).toThrow(/unknown client 'hank'/);
  });
});

describe("etsi-qkd argument order", () => {
  it("moves the operation before the SAEs for commander", () => {
    expect(reorderEtsiArgs(["etsi-qkd", "sam", "sunny", "get-key", "--size", "256"])).toEqual([
      "etsi-qkd",
      "get-key",
      "sam",
      "sunny",
      "--size",
      "256",
    ]);
    expect(reorderEtsiArgs(["--config", "etsi-qkd", "--hub", "x", "etsi-qkd", "a", "b", "get-status"])).toEqual([
      "--config",
      "etsi-qkd",
      "--hub",
      "x",
      "etsi-qkd",
      "get-status",
      "a",
      "b",
    ]);
    expect(reorderEtsiArgs(["start"])).toEqual(["start"]);
    expect(reorderEtsiArgs(["etsi-qkd", "get-key", "sam", "sunny"])).toEqual(["etsi-qkd", "get-key", "sam", "sunny"]);
  });
});
