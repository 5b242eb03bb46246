#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine with only Node 20 and npm:
# pnpm 10 (corepack's download fails its signature check on Node 20), the workspace, the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh  # chromium + openssl + jq + iproute2/nftables/ping (dashboard test, tls-psk example, status jq recipes, netns tests); no-op when present
if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version 2>/dev/null | grep -q '^10\.'; then
  npm i -g pnpm@10 >/dev/null
fi
pnpm install --frozen-lockfile
pnpm -r build
