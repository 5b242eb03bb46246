/** The command line without running nodes: help, usage errors, config errors, unknown SAEs. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "../src/cli";
import { CapturedOutput } from "../src/output";

const repoConfig = path.resolve(__dirname, "../../../dske-config.yaml");
const dir = mkdtempSync(path.join(tmpdir(), "dske-cli-cli-"));

async function cli(...args: string[]) {
  const out = new CapturedOutput();
  const code = await runCli(args, { out });
  return { code, stdout: out.stdout, stderr: out.stderr };
}

describe("dske-cli", () => {
  it("--help lists the reference's commands and options", async () => {
    const r = await cli("--help");
    expect(r.code).toBe(0);
    for (const s of ["--config <file>", "--client <name>", "--hub <name>", "start", "stop", "status", "etsi-qkd"]) {
      expect(r.stdout).toContain(s);
    }
  });

  it("etsi-qkd MASTER SLAVE get-key --help shows the reference's usage", async () => {
    const r = await cli("etsi-qkd", "sam", "sunny", "get-key", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-key [--size BITS] [--number N]");
    expect(r.stdout).toContain("--size <bits>");
  });

  it("an unknown command is a usage error (exit 2)", async () => {
    const r = await cli("--config", repoConfig, "launch");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'launch'");
  });

  it("a bad config: exit 2 and the message names the file, the path and the fix", async () => {
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "hubs:\n  - name: hank\nclients:\n  - name: carol\n    encryptors:\n      - name:\n");
    const r = await cli("--config", file, "status");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`invalid configuration file ${file}`);
    expect(r.stderr).toContain("clients[0].encryptors[0].name (line 6, col 14): expected a non-empty string");
  });

  it("a missing config file", async () => {
    const r = await cli("--config", path.join(dir, "none.yaml"), "start");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("file not found");
  });

  it("unknown SAEs in etsi-qkd are named with the known ones", async () => {
    const r = await cli("--config", repoConfig, "etsi-qkd", "bob", "sunny", "get-status");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown master encryptor (SAE) 'bob'");
    expect(r.stderr).toContain("known encryptors: sam, serena, sofia, sunny, susan");
  });

  it("bad option values are usage errors", async () => {
    const r = await cli("--config", repoConfig, "etsi-qkd", "sam", "sunny", "get-key", "--number", "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("expected a number of keys (a positive integer)");
    const t = await cli("--config", repoConfig, "--timeout", "-1", "start");
    expect(t.code).toBe(2);
  });

  it("status --json and --reference exclude each other (usage error)", async () => {
    const r = await cli("--config", repoConfig, "status", "--json", "--reference");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option '--reference' cannot be used with option '--json'/);
  });

  it("get-key-with-key-ids needs a key ID", async () => {
    const r = await cli("--config", repoConfig, "etsi-qkd", "sam", "sunny", "get-key-with-key-ids");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument");
  });
});
