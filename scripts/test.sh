#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite: type check, lint (typescript-eslint,
# strict and type-aware), format check (Prettier), then jest with per-package coverage floors
# (jest.config.cjs). Ends with the ten slowest test files and a plain "jest: N passed, N failed (T s)" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm typecheck
pnpm lint
pnpm format:check
results="$(mktemp -t dske-jest-XXXXXX.json)"
status=0
pnpm test --coverage --json --outputFile="$results" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // Where the time went: the slowest files, and the sum of all file times (jest runs files in
  // parallel, so the wall time is less).
  const files = r.testResults.map((f) => ({ name: require("path").relative(process.cwd(), f.name), s: (f.endTime - f.startTime) / 1000 }));
  files.sort((a, b) => b.s - a.s);
  const sum = files.reduce((t, f) => t + f.s, 0);
  console.log(`slowest test files (of ${files.length}, ${sum.toFixed(0)} s in all):`);
  for (const f of files.slice(0, 10)) console.log(`  ${f.s.toFixed(1).padStart(6)} s  ${f.name}`);
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
    (r.numPendingTests ? `, ${r.numPendingTests} skipped` : "") +
    ` (${((Date.now() - r.startTime) / 1000).toFixed(0)} s)`);
' "$results" || true
rm -f "$results"
exit "$status"
