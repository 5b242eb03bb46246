import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CONFIG_DEFAULTS, ConfigError, formatYamlPath, loadConfig, parseConfig, resolveStateDir } from "../src/config";

const repoConfig = path.resolve(__dirname, "../../../dske-config.yaml");
const dir = mkdtempSync(path.join(tmpdir(), "dske-cli-config-"));

/** A configuration without its node lists (the defaults are compared on the rest). */
function withoutNodes(cfg: ReturnType<typeof parseConfig>): Partial<ReturnType<typeof parseConfig>> {
  const rest: Partial<ReturnType<typeof parseConfig>> = { ...cfg };
  delete rest.hubs;
  delete rest.clients;
  return rest;
}

function writeYaml(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function expectConfigError(file: string): ConfigError {
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).toContain(file);
    return e;
  }
  throw new Error(`expected ${file} to be rejected`);
}

const MINIMAL = `hubs:
  - name: h1
  - name: h2
  - name: h3
clients:
  - name: c1
    encryptors:
      - name: s1
  - name: c2
    encryptors:
      - name: s2
`;

describe("the repository's dske-config.yaml", () => {
  const cfg = loadConfig(repoConfig);

  it("is the user guide's default topology", () => {
    expect(cfg.hubs.map((h) => h.name)).toEqual(["hank", "helen", "hilary", "holly", "hugo"]);
    expect(cfg.clients.map((c) => [c.name, c.encryptors.map((e) => e.name)])).toEqual([
      ["carol", ["sam"]],
      ["celia", ["serena"]],
      ["cindy", []],
      ["connie", ["sofia"]],
      ["curtis", ["sunny", "susan"]],
    ]);
  });

  it("writes out every optional attribute with its default value", () => {
    expect(cfg.base_port).toBe(8100);
    expect(cfg.start_request_psrd_threshold).toBe(500);
    expect(cfg.stop_request_psrd_threshold).toBe(2000);
    expect(cfg.get_psrd_block_size).toBe(1000);
    expect(cfg.min_nr_shares).toBe(3);
    expect(cfg.share_timeout_secs).toBe(60);
    expect(cfg.state_dir).toBe(".dske");
    expect(cfg.auth_schemes).toEqual(["gf128"]);
    const minimal = parseConfig(MINIMAL, "minimal.yaml");
    const defaults = withoutNodes(minimal);
    const written = withoutNodes(cfg);
    expect(written).toEqual(defaults);
    expect(defaults).toEqual({ ...CONFIG_DEFAULTS, auth_schemes: [...CONFIG_DEFAULTS.auth_schemes] });
  });
});

describe("config validation errors name the file, the YAML path and the fix", () => {
  it("an empty encryptor name", () => {
    const file = writeYaml(
      "empty-encryptor.yaml",
      MINIMAL.replace(
        "  - name: c2\n    encryptors:\n      - name: s2\n",
        '  - name: c2\n  - name: c3\n    encryptors:\n      - name: ""\n',
      ),
    );
    const e = expectConfigError(file);
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].path).toBe("clients[2].encryptors[0].name");
    expect(e.issues[0].line).toBe(12);
    expect(e.message).toContain("clients[2].encryptors[0].name (line 12, col 15): expected a non-empty string");
  });

  it("node log rotation and level: a bad size, count or level", () => {
    const file = writeYaml("logs.yaml", `log_max_size: 10 MB\nlog_max_files: 0\nlog_level: loud\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.issues.map((i) => i.path)).toEqual(["log_max_size", "log_max_files", "log_level"]);
    expect(e.message).toContain("log_max_size (line 1, col 15): expected a size like 10M (a positive integer and B, K, M or G)");
    expect(e.message).toContain("log_max_files (line 2, col 16): expected a number of rotated log files (an integer from 1 to 1000)");
    expect(e.message).toContain("log_level (line 3, col 12): expected one of fatal, error, warn, info, debug, trace");
    const ok = parseConfig(`log_max_size: 512K\nlog_max_files: 2\nlog_level: debug\n${MINIMAL}`, "ok.yaml");
    expect([ok.log_max_size, ok.log_max_files, ok.log_level]).toEqual(["512K", 2, "debug"]);
  });

  it("a missing encryptor name (null)", () => {
    const file = writeYaml("null-name.yaml", MINIMAL.replace("- name: s2", "- name:"));
    const e = expectConfigError(file);
    expect(e.message).toContain("clients[1].encryptors[0].name");
    expect(e.message).toContain("expected a non-empty string");
  });

  it("a YAML syntax error, with line and column", () => {
    const file = writeYaml("syntax.yaml", "hubs: [hank,\nclients:\n  - name: carol\n");
    const e = expectConfigError(file);
    expect(e.message).toMatch(/\(line \d+, col \d+\): YAML syntax error: .+; expected valid YAML/);
    expect(e.issues[0].line).toBeGreaterThanOrEqual(1);
  });

  it("a duplicated attribute", () => {
    const file = writeYaml("dup-key.yaml", `base_port: 9000\nbase_port: 9001\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.message).toContain("line 2");
    expect(e.message).toContain("expected each attribute at most once");
  });

  it("duplicate node names", () => {
    const file = writeYaml("dup-node.yaml", MINIMAL.replace("name: h2", "name: h1"));
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("hubs[1].name");
    expect(e.message).toContain("duplicate name 'h1' (already used by hubs[0]); expected a unique name");
  });

  it("a client named like a hub", () => {
    const file = writeYaml("dup-hub-client.yaml", MINIMAL.replace("name: c2", "name: h3"));
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("clients[1].name");
    expect(e.message).toContain("already used by hubs[2]");
  });

  it("duplicate encryptor names across clients", () => {
    const file = writeYaml("dup-sae.yaml", MINIMAL.replace("name: s2", "name: s1"));
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("clients[1].encryptors[0].name");
    expect(e.message).toContain("duplicate encryptor (SAE ID) 's1'");
  });

  it("port overflow", () => {
    const file = writeYaml("overflow.yaml", `base_port: 65533\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("base_port");
    expect(e.issues[0].line).toBe(1);
    expect(e.message).toContain("port overflow: 5 nodes from 65533 need ports up to 65537; expected base_port ≤ 65531");
  });

  it("a port that is not a port", () => {
    const file = writeYaml("bad-port.yaml", `base_port: eighty\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.message).toContain("base_port (line 1, col 12): expected a TCP port (an integer from 1 to 65535)");
  });

  it("k greater than the number of hubs", () => {
    const file = writeYaml("k.yaml", `min_nr_shares: 4\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("min_nr_shares");
    expect(e.message).toContain("expected min_nr_shares ≤ 3 (the number of hubs)");
  });

  it("thresholds in the wrong order", () => {
    const file = writeYaml("thr.yaml", `start_request_psrd_threshold: 3000\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("stop_request_psrd_threshold");
    expect(e.message).toContain("expected a value greater than start_request_psrd_threshold (3000)");
  });

  it("an unknown attribute (typo)", () => {
    const file = writeYaml("typo.yaml", `min_nr_share: 3\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("min_nr_share");
    expect(e.message).toContain("unknown attribute 'min_nr_share'");
    expect(e.message).toContain("check the spelling");
  });

  it("missing hubs", () => {
    const file = writeYaml("no-hubs.yaml", "clients:\n  - name: c1\n");
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("hubs");
    expect(e.message).toContain("missing required attribute; expected a list of hubs");
  });

  it("an unknown auth scheme", () => {
    const file = writeYaml("auth.yaml", `auth_schemes: [gf128, md5]\n${MINIMAL}`);
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("auth_schemes[1]");
    expect(e.message).toContain("expected one of gf128, hmac-sha256");
  });

  it("a name with a slash (it would break URLs and file names)", () => {
    const file = writeYaml("slash.yaml", MINIMAL.replace("name: c1", "name: c/1"));
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("clients[0].name");
    expect(e.message).toContain("expected letters, digits");
  });

  it("several problems at once are all reported", () => {
    const file = writeYaml("many.yaml", `base_port: 0\nmin_nr_shares: 9\n${MINIMAL.replace("name: s2", "name: s1")}`);
    const e = expectConfigError(file);
    expect(e.issues.map((i) => i.path).sort()).toEqual(["base_port", "clients[1].encryptors[0].name", "min_nr_shares"]);
    expect(e.message).toContain("3 problems");
  });

  it("a file that does not exist", () => {
    const e = expectConfigError(path.join(dir, "nope.yaml"));
    expect(e.message).toContain("file not found; expected a topology YAML file (pass --config FILE)");
  });
});

describe("implementation: reference (nodes run by the reference implementation's manager)", () => {
  /** MINIMAL with hub h2 and client c2 run by the reference implementation. */
  const MIXED = MINIMAL.replace("  - name: h2\n", "  - name: h2\n    implementation: reference\n").replace(
    "  - name: c2\n",
    "  - name: c2\n    implementation: reference\n",
  );

  it("defaults to dske for every hub and client", () => {
    const cfg = parseConfig(MINIMAL, "minimal.yaml");
    expect([...cfg.hubs, ...cfg.clients].map((n) => n.implementation)).toEqual(["dske", "dske", "dske", "dske", "dske"]);
    expect(loadConfig(repoConfig).hubs.every((h) => h.implementation === "dske")).toBe(true);
  });

  it("is accepted on hubs and clients when hmac-sha256 is allowed", () => {
    const cfg = parseConfig(`allowed_auth_schemes: [gf128, hmac-sha256]\n${MIXED}`, "mixed.yaml");
    expect(cfg.hubs.map((h) => [h.name, h.implementation])).toEqual([
      ["h1", "dske"],
      ["h2", "reference"],
      ["h3", "dske"],
    ]);
    expect(cfg.clients.map((c) => [c.name, c.implementation])).toEqual([
      ["c1", "dske"],
      ["c2", "reference"],
    ]);
    expect(cfg.auth_schemes).toEqual(["gf128", "hmac-sha256"]);
    // the older spelling works too
    expect(parseConfig(`auth_schemes: [hmac-sha256]\n${MIXED}`, "old.yaml").clients[1].implementation).toBe("reference");
  });

  it("without hmac-sha256 in the topology's schemes: an error that names the reference nodes and the fix", () => {
    const file = writeYaml("ref-no-hmac.yaml", MIXED);
    const e = expectConfigError(file);
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].path).toBe("allowed_auth_schemes");
    expect(e.message).toContain("reference-implementation nodes (hubs[1] h2, clients[1] c2), which sign with hmac-sha256 only");
    expect(e.message).toContain("but allowed_auth_schemes is [gf128]; expected hmac-sha256 listed too");
    expect(e.message).toContain("`allowed_auth_schemes: [gf128, hmac-sha256]`");
    const old = expectConfigError(writeYaml("ref-old-spelling.yaml", `auth_schemes: [gf128]\n${MIXED}`));
    expect(old.issues[0].path).toBe("auth_schemes");
    expect(old.issues[0].line).toBe(1);
  });

  it("an unknown implementation", () => {
    const file = writeYaml("ref-typo.yaml", MINIMAL.replace("  - name: h3\n", "  - name: h3\n    implementation: python\n"));
    const e = expectConfigError(file);
    expect(e.issues[0].path).toBe("hubs[2].implementation");
    expect(e.issues[0].line).toBe(5);
    expect(e.message).toContain("expected dske or reference (who runs the node; default dske)");
  });

  it("reference clients split into at most 16 shares: at most 16 hubs", () => {
    const hubs = Array.from({ length: 17 }, (_, i) => `  - name: h${i}\n`).join("");
    const clients = "clients:\n  - name: c1\n  - name: c2\n    implementation: reference\n";
    const e = expectConfigError(writeYaml("ref-17.yaml", `allowed_auth_schemes: [gf128, hmac-sha256]\nhubs:\n${hubs}${clients}`));
    expect(e.issues[0].path).toBe("hubs");
    expect(e.message).toContain("17 hubs, but reference-implementation clients (clients[1] c2) split keys into at most 16 shares");
    // reference hubs alone do not split keys
    const hubsOnly = hubs.replace("  - name: h3\n", "  - name: h3\n    implementation: reference\n");
    const ok = parseConfig(`allowed_auth_schemes: [gf128, hmac-sha256]\nhubs:\n${hubsOnly}clients:\n  - name: c1\n`, "ok.yaml");
    expect(ok.hubs).toHaveLength(17);
  });
});

describe("helpers", () => {
  it("formats YAML paths", () => {
    expect(formatYamlPath(["clients", 2, "encryptors", 0, "name"])).toBe("clients[2].encryptors[0].name");
    expect(formatYamlPath([])).toBe("");
  });

  it("resolves the state dir next to the config file, or the override", () => {
    const cfg = parseConfig(MINIMAL, "x.yaml");
    expect(resolveStateDir("/a/b/topo.yaml", cfg)).toBe("/a/b/.dske");
    expect(resolveStateDir("/a/b/topo.yaml", { ...cfg, state_dir: "../st" })).toBe("/a/st");
    expect(resolveStateDir("/a/b/topo.yaml", cfg, "/tmp/x")).toBe("/tmp/x");
  });
});
