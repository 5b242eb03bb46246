/**
 * The run's temporary directory (test/support/temp-root.cjs, jest's globalSetup/globalTeardown):
 * this very test runs inside one, and the setup/teardown pair, driven on a scratch parent,
 * creates, hands over (TMPDIR) and removes it, and removes the directory of a run that was killed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS module jest's config names
const tempRoot = require("./temp-root.cjs") as {
  createRunDir(parent: string, env: Record<string, string | undefined>): string;
  removeRunDir(env: Record<string, string | undefined>): void;
};

test("this test file's os.tmpdir() is the run's directory, which jest's globalSetup made", () => {
  const runDir = process.env.DSKE_TEST_RUN_DIR;
  expect(runDir).toBeDefined();
  expect(os.tmpdir()).toBe(runDir);
  expect(path.basename(runDir ?? "")).toMatch(/^dske-test-run-/);
  expect(readFileSync(path.join(runDir ?? "", "owner.pid"), "utf8").trim()).toMatch(/^\d+$/);
});

test("createRunDir makes the directory (mode 1777, like /tmp) and points TMPDIR at it; removeRunDir removes it with everything in it; a killed run's directory goes at the next run", () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), "temp-root-parent-"));
  try {
    // A run that was killed: its jest process (a finished child here) is gone.
    const deadPid = spawnSync(process.execPath, ["-e", "0"]).pid;
    expect(deadPid).toBeGreaterThan(0);
    const abandoned = path.join(parent, "dske-test-run-killed");
    mkdirSync(path.join(abandoned, "dske-sys-1"), { recursive: true });
    writeFileSync(path.join(abandoned, "owner.pid"), `${deadPid}\n`);
    // A run still going (this process): kept.
    const running = path.join(parent, "dske-test-run-running");
    mkdirSync(running);
    writeFileSync(path.join(running, "owner.pid"), `${process.pid}\n`);
    // Something else's directory: never touched.
    mkdirSync(path.join(parent, "dske-test-run-no-owner"));

    const env: Record<string, string | undefined> = {};
    const dir = tempRoot.createRunDir(parent, env);
    expect(path.dirname(dir)).toBe(parent);
    expect(env).toEqual({ TMPDIR: dir, DSKE_TEST_RUN_DIR: dir });
    expect(statSync(dir).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(path.join(dir, "owner.pid"), "utf8")).toBe(`${process.pid}\n`);
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(running)).toBe(true);
    expect(existsSync(path.join(parent, "dske-test-run-no-owner"))).toBe(true);

    const state = mkdtempSync(path.join(dir, "dske-sys-"));
    writeFileSync(path.join(state, "data.bin"), Buffer.alloc(64, 7));
    tempRoot.removeRunDir(env);
    expect(existsSync(dir)).toBe(false);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
