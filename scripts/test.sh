#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite: type check, lint (typescript-eslint,
# strict and type-aware), format check (Prettier), then jest with per-package coverage floors
# (jest.config.cjs). Ends with a plain "jest: N passed, N failed" line.
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
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
    (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$results" || true
rm -f "$results"
exit "$status"
