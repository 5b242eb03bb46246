#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite: type check, then jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm typecheck
pnpm test
