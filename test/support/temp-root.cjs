/**
 * One temporary directory per test run (jest globalSetup / globalTeardown): every file the tests
 * and the processes they start put in os.tmpdir() (topology state dirs with PSRD pools, hub
 * outboxes of sealed bundles, PostgreSQL clusters, logs) goes under it, and it is removed when the
 * run ends, failed tests or not. Before, each run left about 200 directories in /tmp, PSRD among
 * them. A run that was killed leaves its directory; the next run removes it (its owner is dead).
 */
const { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const PREFIX = "dske-test-run-";

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/** Directories of earlier runs whose jest process is gone. */
function removeAbandoned(parent) {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(parent, name);
    let owner;
    try {
      owner = Number.parseInt(readFileSync(path.join(dir, "owner.pid"), "utf8"), 10);
    } catch {
      continue; // not ours, or being created
    }
    if (Number.isInteger(owner) && !alive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Make the run's directory under `parent` and point `env` (TMPDIR, DSKE_TEST_RUN_DIR) at it. */
function createRunDir(parent, env) {
  removeAbandoned(parent);
  const dir = mkdtempSync(path.join(parent, PREFIX));
  // Like /tmp: programs the tests run as another user (PostgreSQL as "postgres") make their own
  // directories in it; each test's own directories are mkdtemp'd (mode 0700) inside.
  chmodSync(dir, 0o1777);
  writeFileSync(path.join(dir, "owner.pid"), `${process.pid}\n`);
  env.DSKE_TEST_RUN_DIR = dir;
  env.TMPDIR = dir;
  return dir;
}

/** Remove the run's directory `env` names, with everything in it. */
function removeRunDir(env) {
  const dir = env.DSKE_TEST_RUN_DIR;
  if (dir !== undefined && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

module.exports = {
  createRunDir,
  removeRunDir,
  // jest's globalSetup / globalTeardown (the jest process's own environment; workers inherit it).
  setup: async () => void createRunDir(os.tmpdir(), process.env),
  teardown: async () => removeRunDir(process.env),
};
