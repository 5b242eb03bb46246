/** The restart policy: which ends call for a restart, the backoff series, and `restart:` in the YAML (valid and invalid). */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "../src/cli";
import { parseConfig, processModeOf } from "../src/config";
import { CapturedOutput } from "../src/output";
import { backoffMs, describeExit, RESTART_DEFAULTS, wantsRestart } from "../src/restart-policy";

const NODES = "min_nr_shares: 1\nhubs:\n  - name: hank\nclients:\n  - name: carol\n";

describe("wantsRestart", () => {
  it("on-failure: crashes and vanished processes, not clean ends", () => {
    const cases: [number | null, string | null, boolean][] = [
      [1, null, true],
      [0, null, false],
      [null, "SIGKILL", true],
      [null, "SIGSEGV", true],
      [null, "SIGTERM", false],
      [null, "SIGINT", false],
    ];
    for (const [code, signal, want] of cases)
      expect([code, signal, wantsRestart("on-failure", { code, signal })]).toEqual([code, signal, want]);
    expect(wantsRestart("on-failure", undefined)).toBe(true);
  });

  it("no never, always always", () => {
    expect(wantsRestart("no", { code: 1, signal: null })).toBe(false);
    expect(wantsRestart("always", { code: 0, signal: null })).toBe(true);
  });

  it("backoff doubles per crash in a row up to the maximum", () => {
    const p = { ...RESTART_DEFAULTS, policy: "on-failure" as const, backoff_ms: 200, max_backoff_ms: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(p, n))).toEqual([200, 400, 800, 1000, 1000]);
  });

  it("describes an end", () => {
    expect([describeExit({ code: 3, signal: null }), describeExit({ code: null, signal: "SIGKILL" }), describeExit(undefined)]).toEqual([
      "exit code 3",
      "killed by SIGKILL",
      "exit status unknown",
    ]);
  });
});

describe("restart: in dske-config.yaml", () => {
  it("the short form sets the policy with the default limits; the long form sets limits", () => {
    expect(parseConfig(`restart: on-failure\n${NODES}`, "a.yaml").restart).toEqual({ ...RESTART_DEFAULTS, policy: "on-failure" });
    expect(parseConfig(`restart: {policy: always, max_restarts: 2}\n${NODES}`, "b.yaml").restart).toEqual({
      ...RESTART_DEFAULTS,
      policy: "always",
      max_restarts: 2,
    });
    expect(parseConfig(NODES, "c.yaml").restart.policy).toBe("no");
  });

  it("a wrong value: the CLI names the file, the attribute and the fix", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dske-restart-"));
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, `restart: {policy: sometimes, backoff_ms: -1}\n${NODES}`);
    const out = new CapturedOutput();
    expect(await runCli(["--config", file, "status"], { out })).toBe(2);
    expect(out.stderr).toContain(`invalid configuration file ${file}`);
    expect(out.stderr).toContain("2 problems");
    expect(out.stderr).toMatch(
      /restart\.policy \(line 1, col \d+\): expected no, on-failure, always \(the restart policy of crashed nodes\)/,
    );
    expect(out.stderr).toMatch(
      /restart\.backoff_ms \(line 1, col \d+\): expected milliseconds before the first restart \(an integer from 10 to 3600000\)/,
    );
  });

  it("start --restart takes only a known policy", async () => {
    const out = new CapturedOutput();
    expect(await runCli(["start", "--restart", "sometimes"], { out })).toBe(2);
    expect(out.stderr).toContain("argument 'sometimes' is invalid. Allowed choices are no, on-failure, always.");
  });
});

describe("processes: in dske-config.yaml", () => {
  it("shared by default, separate under a restart policy (config or --restart); what is written wins", () => {
    expect(parseConfig(NODES, "a.yaml").processes).toBeUndefined();
    expect(processModeOf(parseConfig(NODES, "a.yaml"))).toBe("shared");
    expect(processModeOf(parseConfig(`restart: on-failure\n${NODES}`, "r.yaml"))).toBe("separate");
    expect(processModeOf(parseConfig(NODES, "a.yaml"), "always")).toBe("separate"); // start --restart always
    expect(processModeOf(parseConfig(`processes: shared\n${NODES}`, "b.yaml"))).toBe("shared");
    expect(processModeOf(parseConfig(`processes: separate\n${NODES}`, "c.yaml"))).toBe("separate");
  });

  it("shared with a restart policy, or an unknown mode: the CLI names the file, the attribute and the fix", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dske-processes-"));
    const both = path.join(dir, "both.yaml");
    writeFileSync(both, `processes: shared\nrestart: on-failure\n${NODES}`);
    const out = new CapturedOutput();
    expect(await runCli(["--config", both, "status"], { out })).toBe(2);
    expect(out.stderr).toContain(`invalid configuration file ${both}`);
    expect(out.stderr).toMatch(/processes \(line 1, col \d+\): the restart policy restarts one node's process.*use processes: separate/);
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, `processes: pooled\n${NODES}`);
    const out2 = new CapturedOutput();
    expect(await runCli(["--config", bad, "status"], { out: out2 })).toBe(2);
    expect(out2.stderr).toMatch(/processes \(line 1, col \d+\): expected separate or shared/);
  });

  it("start --processes takes only a known mode", async () => {
    const out = new CapturedOutput();
    expect(await runCli(["start", "--processes", "pooled"], { out })).toBe(2);
    expect(out.stderr).toContain("argument 'pooled' is invalid. Allowed choices are separate, shared.");
  });
});
