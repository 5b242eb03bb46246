/**
 * Hub and client storage and replicas in the YAML (node-replicas.ts): validation with clear messages, the
 * replica processes (`hank#N`, ports, state dirs), the clients' `URL|URL|...` hub entries, the
 * hub command line (no URL on it) and its environment (DSKE_STORAGE_URL).
 */
import os from "node:os";
import path from "node:path";
import { ConfigError, parseConfig } from "../src/config";
import { distributionPlan, nodeArgs, nodeEnv } from "../src/node-command";
import { RESTART_DEFAULTS } from "../src/restart-policy";
import { systemdUnits } from "../src/systemd-units";
import { StateDir } from "../src/state-dir";
import { selectNodes, Topology } from "../src/topology";

const CLIENTS = `clients:
  - name: carol
    encryptors:
      - name: sam
  - name: curtis
    encryptors:
      - name: sunny
`;

function config(hank: string): string {
  return `base_port: 9100\nmin_nr_shares: 2\nhubs:\n  - name: hank\n${hank}  - name: helen\n    port: 9200\n${CLIENTS}`;
}

function rejected(yaml: string): string {
  try {
    parseConfig(yaml, "replicas.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected the configuration to be rejected");
}

describe("hub storage and replicas", () => {
  const pg = `    storage: { kind: postgres, url: "postgresql://dske:secret@db.example:5432/hank" }\n`;

  it("expands a hub with replicas into one process per replica, ports port, port+1, ...", () => {
    const t = new Topology(parseConfig(config(`${pg}    port: 9300\n    replicas: 3\n`), "replicas.yaml"));
    expect(t.hubs.map((h) => h.name)).toEqual(["hank", "helen"]);
    expect(t.nodes.filter((n) => n.kind === "hub").map((n) => `${n.name}:${n.port}`)).toEqual([
      "hank#1:9300",
      "hank#2:9301",
      "hank#3:9302",
      "helen:9200",
    ]);
    // The clients get every replica URL of hank, joined with `|`.
    expect(t.hubUrlsOf(t.clients[0])[0]).toBe(
      "http://127.0.0.1:9300/hub/hank|http://127.0.0.1:9301/hub/hank|http://127.0.0.1:9302/hub/hank",
    );
    // `--hub hank` selects every replica, `--hub hank#2` one.
    expect(selectNodes(t, { hubs: ["hank"], clients: [] }).nodes.map((n) => n.name)).toEqual(["hank#1", "hank#2", "hank#3"]);
    expect(selectNodes(t, { hubs: ["hank#2"], clients: [] }).nodes.map((n) => n.name)).toEqual(["hank#2"]);
  });

  it("runs each replica as the hub itself, on postgres, with the URL in the environment only", () => {
    const t = new Topology(parseConfig(config(`${pg}    replicas: 2\n    replica_ports: [9150, 9160]\n`), "replicas.yaml"));
    const state = new StateDir(path.join(os.tmpdir(), "dske-replicas-config"));
    const second = t.nodes.find((n) => n.name === "hank#2");
    if (second === undefined) throw new Error("no hank#2");
    expect(second.port).toBe(9160);
    const args = nodeArgs(second, t, state);
    expect(args[0]).toBe("hank");
    expect(args.join(" ")).toMatch(/--storage postgres --storage-key-file \S+hank\.key --psrd-key-file \S+hank\.psrd\.key/);
    expect(args.join(" ")).not.toContain("postgresql://");
    expect(args).not.toContain("--distribution-plan"); // the first replica distributes
    expect(nodeArgs(t.nodes[0], t, state)).toContain("--distribution-plan");
    expect(nodeEnv(second)).toEqual({ DSKE_STORAGE_URL: "postgresql://dske:secret@db.example:5432/hank" });
    // Under TLS every replica serves the hub's own certificate.
    const tlsArgs = nodeArgs(second, t, state, true);
    expect(tlsArgs[tlsArgs.indexOf("--tls-cert") + 1]).toBe(path.join(state.root, "tls", "hubs", "hank.crt"));
  });

  it("systemd: one unit per replica (hank.replica2), the URL from an environment file", () => {
    const t = new Topology(parseConfig(config(`${pg}    port: 9300\n    replicas: 2\n`), "replicas.yaml"));
    const state = new StateDir(path.join(os.tmpdir(), "dske-replicas-config"));
    const units = systemdUnits({
      prefix: "dske",
      configFile: "replicas.yaml",
      topology: t,
      state,
      nodes: t.nodes,
      restart: RESTART_DEFAULTS,
      user: true,
      tls: false,
    });
    const second = units.find((u) => u.name === "dske-hub-hank.replica2.service");
    expect(second?.text).toMatch(/EnvironmentFile=\S+hank\.env/);
    expect(second?.text).not.toContain("postgresql://dske");
  });

  it("takes the URL from the environment variable url_env names", () => {
    const t = new Topology(parseConfig(config(`    storage: { kind: postgres, url_env: HANK_DB }\n`), "replicas.yaml"));
    expect(nodeEnv(t.hubs[0], { HANK_DB: "postgres://u:p@h/hank" })).toEqual({ DSKE_STORAGE_URL: "postgres://u:p@h/hank" });
    expect(() => nodeEnv(t.hubs[0], {})).toThrow(/HANK_DB.*not set.*export HANK_DB=/);
  });

  it.each([
    [`    replicas: 2\n`, /replicas.*share their state in PostgreSQL only; expected `storage: \{ kind: postgres/],
    [`    storage: { kind: postgres }\n`, /exactly one of url .* or url_env/],
    [`    storage: { kind: postgres, url: "mysql://x" }\n`, /expected a URL postgres:\/\//],
    [`    storage: { kind: sqlite }\n`, /expected `storage: \{ kind: file \}`/],
    [`${pg}    replicas: 2\n    replica_ports: [9150]\n`, /1 replica_ports for 2 replicas; expected one port per replica/],
    [`${pg}    replicas: 40\n`, /expected a number of replicas \(an integer from 1 to 16\)/],
    [`${pg}    port: 9199\n    replicas: 2\n`, /replica hank#2 would use port 9200, which hub helen uses; expected replica_ports/],
  ])("refuses %j with a message naming the fix", (hank, message) => {
    expect(rejected(config(hank))).toMatch(message);
  });
});

describe("client storage and replicas", () => {
  const pg = `    storage: { kind: postgres, url_env: CAROL_DB }\n`;
  const yaml = (carol: string) =>
    `base_port: 9100\nmin_nr_shares: 2\nhubs:\n  - name: hank\n  - name: helen\nclients:\n  - name: carol\n${carol}    encryptors:\n      - name: sam\n  - name: curtis\n    port: 9400\n    encryptors:\n      - name: sunny\n`;

  it("runs carol#1..#N as the client carol on postgres; only carol#1 is in the distribution plan", () => {
    const t = new Topology(parseConfig(yaml(`${pg}    port: 9300\n    replicas: 2\n`), "replicas.yaml"));
    expect(t.clients.map((c) => c.name)).toEqual(["carol", "curtis"]);
    expect(t.nodes.filter((n) => n.kind === "client").map((n) => `${n.name}:${n.port}`)).toEqual([
      "carol#1:9300",
      "carol#2:9301",
      "curtis:9400",
    ]);
    expect(selectNodes(t, { hubs: [], clients: ["carol"] }).nodes.map((n) => n.name)).toEqual(["carol#1", "carol#2"]);
    expect(selectNodes(t, { hubs: [], clients: ["carol#2"] }).nodes.map((n) => n.name)).toEqual(["carol#2"]);
    const state = new StateDir(path.join(os.tmpdir(), "dske-replicas-config"));
    const second = t.nodes.find((n) => n.name === "carol#2");
    if (second === undefined) throw new Error("no carol#2");
    const args = nodeArgs(second, t, state);
    expect(args[0]).toBe("carol");
    expect(args[args.indexOf("--state-dir") + 1]).toBe(state.nodeDir("carol#2"));
    expect(args.join(" ")).toMatch(/--storage postgres --storage-key-file \S+client-carol\.key --psrd-key-file \S+client-carol\.psrd\.key/);
    expect(nodeEnv(second, { CAROL_DB: "postgres://u:p@h/carol" })).toEqual({ DSKE_STORAGE_URL: "postgres://u:p@h/carol" });
    expect(() => nodeEnv(second, {})).toThrow(/client carol: storage.url_env names CAROL_DB/);
    const plan = distributionPlan(t, state);
    expect(plan.clients.find((c) => c.name === "carol")).toEqual({
      name: "carol",
      url: "http://127.0.0.1:9300/client/carol",
      inbox: state.inboxDir("carol#1"),
    });
    const units = systemdUnits({
      prefix: "dske",
      configFile: "replicas.yaml",
      topology: t,
      state,
      nodes: t.nodes,
      restart: RESTART_DEFAULTS,
      user: true,
      tls: false,
    });
    const unit = units.find((u) => u.name === "dske-client-carol.replica2.service");
    expect(unit?.text).toMatch(/EnvironmentFile=\S+client-carol\.env/);
  });

  it.each([
    [`    replicas: 2\n`, /client carol has 2 replicas, which share their state in PostgreSQL only/],
    [`${pg}    port: 9399\n    replicas: 2\n`, /replica carol#2 would use port 9400, which client curtis uses/],
  ])("refuses %j with a message naming the fix", (carol, message) => {
    expect(rejected(yaml(carol))).toMatch(message);
  });
});
