/**
 * The topology's operator token file (`<state_dir>/operator-token`): created once (64 lowercase
 * hex + newline, mode 0600), reused, refused when readable by others; passed to every node as a
 * file path (never the token on argv).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseConfig } from "../src/config";
import { CliError } from "../src/errors";
import { operatorHeaders } from "../src/mgmt";
import { nodeArgs } from "../src/node-command";
import { ensureOperatorToken, operatorTokenPath, readOperatorToken } from "../src/operator-token";
import { StateDir } from "../src/state-dir";
import { Topology } from "../src/topology";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "dske-operator-token-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("operator token file", () => {
  test("created when missing: 64 lowercase hex + newline, mode 0600; then reused", () => {
    const root = path.join(dir, "state");
    expect(readOperatorToken(root)).toBeUndefined();
    const first = ensureOperatorToken(root);
    expect(first.created).toBe(true);
    expect(first.token).toMatch(/^[0-9a-f]{64}$/);
    const file = operatorTokenPath(root);
    expect(readFileSync(file, "utf8")).toBe(`${first.token}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(ensureOperatorToken(root)).toEqual({ token: first.token, created: false });
    expect(readOperatorToken(root)).toBe(first.token);
    expect(new StateDir(root).operatorTokenFile).toBe(file);
  });

  test("a token readable by group or others is refused, naming the file and the fix", () => {
    const first = ensureOperatorToken(dir);
    chmodSync(operatorTokenPath(dir), 0o644);
    expect(() => readOperatorToken(dir)).toThrow(CliError);
    expect(() => readOperatorToken(dir)).toThrow(`chmod 600 ${operatorTokenPath(dir)}`);
    chmodSync(operatorTokenPath(dir), 0o600);
    expect(readOperatorToken(dir)).toBe(first.token);
  });

  test("a file that holds no token is refused with the fix", () => {
    writeFileSync(operatorTokenPath(dir), "not a token\n", { mode: 0o600 });
    expect(() => ensureOperatorToken(dir)).toThrow(/does not hold 64 lowercase hex characters: delete it/);
  });

  test("every node gets --operator-token-file (the path, never the token)", () => {
    const yaml = [
      "base_port: 8100",
      "min_nr_shares: 2",
      "hubs:",
      "  - name: hank",
      "  - name: helen",
      "clients:",
      "  - name: carol",
      "    encryptors:",
      "      - name: sam",
    ].join("\n");
    const topology = new Topology(parseConfig(yaml, "test.yaml"));
    const state = new StateDir(dir);
    const { token } = ensureOperatorToken(dir);
    for (const node of topology.nodes) {
      const args = nodeArgs(node, topology, state);
      expect(args[args.indexOf("--operator-token-file") + 1]).toBe(state.operatorTokenFile);
      expect(args.join(" ")).not.toContain(token);
    }
    expect(operatorHeaders({ token })).toEqual({ Authorization: `Bearer ${token}` });
    expect(operatorHeaders(undefined)).toEqual({});
  });
});
