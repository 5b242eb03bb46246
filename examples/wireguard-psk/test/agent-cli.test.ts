/**
 * The agent's pieces that need neither root nor WireGuard: its command line (run as a user
 * would, bad options named), and how a key reaches `wg` (a stand-in `wg` script records what it
 * was given): a 0600 file holding the key in base64, removed once `wg set` returned, also when
 * `wg` fails.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAgentOptions } from "../src/agent-options";
import { setPresharedKey } from "../src/wg";
import { childProgram } from "../../../test/support/child-program";

const EXAMPLE_DIR = path.resolve(__dirname, "..");
const PUB = "qri/k6IAxvirqWh/FCQ8m6bg8LzdkvnG6kHtdVHCYho=";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "dske-wg-agent-test-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function agent(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [childProgram(path.join(EXAMPLE_DIR, "src", "agent.ts")), ...args],
      { cwd: EXAMPLE_DIR, timeout: 60_000 },
      (err, _out, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stderr }),
    );
  });
}

/** A stand-in `wg`: records its arguments, and the mode and SHA-256 of the preshared-key file; exits `code`. */
function fakeWg(code: number): { wg: string; record: string } {
  const record = path.join(dir, `record-${code}-${Math.random().toString(36).slice(2)}`);
  const wg = path.join(dir, `wg-${code}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    wg,
    [
      "#!/bin/sh",
      `echo "args: $*" >> '${record}'`,
      'prev=""; for a in "$@"; do',
      `  if [ "$prev" = preshared-key ]; then echo "mode: $(stat -c %a "$a")" >> '${record}'; echo "sha: $(sha256sum < "$a" | cut -d' ' -f1)" >> '${record}'; echo "file: $a" >> '${record}'; fi`,
      '  prev="$a"; done',
      `exit ${code}`,
      "",
    ].join("\n"),
  );
  chmodSync(wg, 0o755);
  return { wg, record };
}

describe("wireguard-psk agent", () => {
  it("names a missing or bad option and exits 2", async () => {
    const missing = await agent(["--role", "master", "--sae", "sam"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("expected --kme URL");
    expect(missing.stderr).toContain("expected --peer-agent URL");
    const badKey = await agent([
      "--role",
      "slave",
      "--sae",
      "b",
      "--peer-sae",
      "a",
      "--kme",
      "http://x",
      "--interface",
      "wg0",
      "--peer-public-key",
      "abc",
      "--listen",
      "1.2.3.4:5",
    ]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain("expected --peer-public-key as 44 base64 characters");
    const role = await agent(["--role", "boss"]);
    expect(role.stderr).toContain("expected --role master or --role slave");
  }, 120_000);

  it("parses a master's options (interval default 5 s, rehandshake on unless --no-rehandshake)", () => {
    const base = ["--role", "master", "--sae", "sam", "--peer-sae", "sunny", "--kme", "http://10.0.0.1:19805/client/carol/etsi"];
    const rest = ["--interface", "wgA0", "--peer-public-key", PUB, "--peer-agent", "http://10.0.0.11:19810"];
    expect(parseAgentOptions([...base, ...rest])).toMatchObject({ role: "master", intervalSeconds: 5, rehandshake: true, iface: "wgA0" });
    expect(parseAgentOptions([...base, ...rest, "--interval", "2", "--no-rehandshake"])).toMatchObject({
      intervalSeconds: 2,
      rehandshake: false,
    });
    expect(() => parseAgentOptions([...base, ...rest, "--interval", "0"])).toThrow("expected --interval of at least 1 second");
  });

  it("hands the key to `wg set` in a 0600 file (base64) that is gone afterwards", async () => {
    const { wg, record } = fakeWg(0);
    const key = randomBytes(32);
    const keyDir = mkdtempSync(path.join(dir, "keys-"));
    await setPresharedKey("wgA0", PUB, key, { wg, keyDir });
    const lines = readFileSync(record, "utf8");
    expect(lines).toContain(`args: set wgA0 peer ${PUB} preshared-key `);
    expect(lines).toContain("mode: 600");
    const sha = createHash("sha256").update(key.toString("base64")).digest("hex");
    expect(lines).toContain(`sha: ${sha}`);
    expect(lines.includes(key.toString("base64"))).toBe(false); // the key is never an argument
    const file = /file: (.*)/.exec(lines)?.[1] ?? "";
    expect(file.startsWith(keyDir)).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(keyDir)).toEqual([]);
  });

  it("removes the key file also when `wg` fails, and says what failed", async () => {
    const { wg } = fakeWg(1);
    const keyDir = mkdtempSync(path.join(dir, "keys-"));
    await expect(setPresharedKey("wgA0", PUB, randomBytes(32), { wg, keyDir })).rejects.toThrow(/set wgA0 peer .* failed/);
    expect(readdirSync(keyDir)).toEqual([]);
    await expect(setPresharedKey("wgA0", PUB, randomBytes(16), { wg, keyDir })).rejects.toThrow(
      "a WireGuard preshared key is 32 bytes, got 16",
    );
  });
});
