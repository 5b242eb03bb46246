/**
 * `dske-cli systemd --out DIR [--user]` run as an operator runs it (the built bin): one unit per
 * node of this host plus dske.target, each running the node with the command line `start` uses,
 * Restart= from the policy and sandboxing; checked with Debian's `systemd-analyze verify`
 * (scripts/install-system-deps.sh installs systemd: without it this test fails, naming the script).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config";
import { nodeArgs, serverScript } from "../src/node-command";
import { StateDir } from "../src/state-dir";
import { Topology } from "../src/topology";

const REPO = path.resolve(__dirname, "../../..");
const BIN = path.join(REPO, "packages/dske-cli/dist/bin.js");
const dir = mkdtempSync(path.join(tmpdir(), "dske-systemd-"));
// A space in the state dir: ExecStart, WorkingDirectory and ReadWritePaths must quote it.
const stateRoot = path.join(dir, "state dir");
const configFile = path.join(dir, "dske-config.yaml");
writeFileSync(
  configFile,
  readFileSync(path.join(REPO, "dske-config.yaml"), "utf8")
    .replace(/^base_port:.*$/m, "base_port: 19750")
    .replace(/^restart:.*$/m, "restart: {policy: always, backoff_ms: 3000, max_restarts: 4}"),
);

function bin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, "--config", configFile, "--state-dir", stateRoot, ...args], { cwd: dir }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function verify(files: string[], user: boolean): { code: number; output: string } {
  try {
    execFileSync("systemd-analyze", ["--version"], { stdio: "ignore" });
  } catch (err) {
    throw new Error("systemd-analyze is missing: run scripts/install-system-deps.sh (Debian package systemd)", { cause: err });
  }
  const runtime = path.join(dir, "xdg-runtime");
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  try {
    const output = execFileSync("systemd-analyze", [...(user ? ["--user"] : []), "verify", "--man=no", ...files], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      // --user needs a runtime directory (no user session in CI containers).
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
    });
    return { code: 0, output };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** ExecStart words (systemd quoting: "..." with \\ escapes; %% and $$ for % and $). */
function execWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    const quoted = m[1] as string | undefined;
    const w = quoted !== undefined ? quoted.replace(/\\(.)/g, "$1") : m[2];
    words.push(w.replace(/%%/g, "%").replace(/\$\$/g, "$"));
  }
  return words;
}

function setting(text: string, key: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe("dske-cli systemd", () => {
  const topology = new Topology(loadConfig(configFile));
  const state = new StateDir(stateRoot);

  it("writes one unit per node and dske.target; each runs the node as `start` does, restarted and sandboxed", async () => {
    const out = path.join(dir, "units");
    const r = await bin("systemd", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Wrote 11 unit(s) to ${out}`);
    expect(r.stdout).toContain("systemctl daemon-reload && systemctl enable --now dske.target");
    const expected = [...topology.nodes.map((n) => `dske-${n.kind}-${n.name}.service`), "dske.target"];
    expect(readdirSync(out).sort()).toEqual([...expected].sort());
    for (const node of topology.nodes) {
      const text = readFileSync(path.join(out, `dske-${node.kind}-${node.name}.service`), "utf8");
      const [exec] = setting(text, "ExecStart");
      expect(execWords(exec)).toEqual([process.execPath, serverScript(node.kind), ...nodeArgs(node, topology, state, false)]);
      expect(setting(text, "WorkingDirectory")).toEqual([stateRoot]);
      expect(execWords(setting(text, "ReadWritePaths")[0])).toEqual([stateRoot]);
      expect(setting(text, "Restart")).toEqual(["always"]);
      expect(setting(text, "RestartSec")).toEqual(["3"]);
      expect(setting(text, "StartLimitBurst")).toEqual(["5"]);
      for (const [k, v] of [
        ["NoNewPrivileges", "yes"],
        ["ProtectSystem", "strict"],
        ["ProtectHome", "read-only"],
        ["CapabilityBoundingSet", ""],
        ["WantedBy", "dske.target"],
        ["PartOf", "dske.target"],
      ]) {
        expect([node.name, k, setting(text, k)]).toEqual([node.name, k, [v]]);
      }
      expect(setting(text, "User")).toHaveLength(1);
      // Clients start after the hubs of this host.
      const after = setting(text, "After")[0].split(" ");
      if (node.kind === "client") expect(after).toEqual(expect.arrayContaining(topology.hubs.map((h) => `dske-hub-${h.name}.service`)));
      else expect(after).toEqual(["network-online.target"]);
    }
    const target = readFileSync(path.join(out, "dske.target"), "utf8");
    expect(setting(target, "Wants")[0].split(" ")).toEqual(expected.slice(0, -1));
    expect(setting(target, "WantedBy")).toEqual(["multi-user.target"]);
    // The state dir is ready for the units: token, KME directory and distribution plan.
    for (const f of ["operator-token", "kme-directory.json", "distribution.json"]) expect(readdirSync(stateRoot)).toContain(f);
    const v = verify(
      expected.map((u) => path.join(out, u)),
      false,
    );
    expect(v).toEqual({ code: 0, output: "" });
  });

  it("--user --prefix: user units (no User=, wanted by default.target), verified with systemd-analyze --user", async () => {
    const out = path.join(dir, "user-units");
    const r = await bin("systemd", "--out", out, "--user", "--prefix", "dske-lab");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("systemctl --user daemon-reload && systemctl --user enable --now dske-lab.target");
    const files = readdirSync(out).sort();
    expect(files).toContain("dske-lab-client-carol.service");
    for (const f of files.filter((x) => x.endsWith(".service")))
      expect([f, setting(readFileSync(path.join(out, f), "utf8"), "User")]).toEqual([f, []]);
    expect(setting(readFileSync(path.join(out, "dske-lab.target"), "utf8"), "WantedBy")).toEqual(["default.target"]);
    expect(
      verify(
        files.map((f) => path.join(out, f)),
        true,
      ),
    ).toEqual({ code: 0, output: "" });
  });

  it("a bad prefix is refused, naming the fix", async () => {
    const r = await bin("systemd", "--out", path.join(dir, "x"), "--prefix", "../evil");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--prefix '../evil': expected letters, digits");
  });
});
