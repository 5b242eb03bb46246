/**
 * The collect-v8-coverage that jest's V8 coverage (`--coverage`, jest.config.cjs) uses, as
 * patched by patches/collect-v8-coverage@1.0.3.patch: precise coverage starts once per process
 * and stays on, and each test file's result is the counts since the previous result. Upstream
 * stopped and restarted precise coverage around every test file, which cost about half the
 * suite's CPU under --coverage (README, Development). Run in a child process so that this file's
 * own coverage session stays untouched.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

/** collect-v8-coverage as jest-runtime resolves it (jest → @jest/core → jest-runner → jest-runtime). */
function instrumenterPath(): string {
  let from = createRequire(path.join(__dirname, "../../package.json"));
  for (const pkg of ["jest", "@jest/core", "jest-runner", "jest-runtime"]) from = createRequire(from.resolve(`${pkg}/package.json`));
  return from.resolve("collect-v8-coverage");
}

const CHILD = `
const { CoverageInstrumenter } = require(process.argv[1]);
const probe = require(process.argv[2]);
const count = (result) => {
  const script = result.find((s) => s.url.endsWith("/probe.cjs"));
  const fn = script && script.functions.find((f) => f.functionName === "parity");
  return fn ? fn.ranges[0].count : null;
};
(async () => {
  const counts = [];
  for (const [during, between] of [[3, 2], [5, 0], [1, 0]]) {
    const instrumenter = new CoverageInstrumenter();
    await instrumenter.startInstrumenting();
    for (let i = 0; i < during; i++) probe.parity(i);
    counts.push(count(await instrumenter.stopInstrumenting()));
    for (let i = 0; i < between; i++) probe.parity(i);
  }
  process.stdout.write(JSON.stringify(counts));
})();
`;

test("each result counts only the calls since the previous one, and coverage stays on between test files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-coverage-"));
  try {
    const probe = path.join(dir, "probe.cjs");
    writeFileSync(probe, "exports.parity = function parity(x) { return x % 2 === 0 ? 'even' : 'odd'; };\n");
    const out = execFileSync(process.execPath, ["-e", CHILD, instrumenterPath(), probe], { encoding: "utf8" });
    // Round 1: 3 calls. Round 2: the 2 calls made between the rounds (while upstream had coverage
    // off, so it reported 5) and its own 5. Round 3: 1, not 1 + 7: each result resets the counts.
    expect(JSON.parse(out)).toEqual([3, 7, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
