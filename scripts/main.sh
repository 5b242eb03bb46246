#!/usr/bin/env bash
# The main job: set up (install + build), start the default topology of dske-config.yaml
# (5 hubs, 5 clients, one background process each; state, logs and pids under .dske/), then
# establish a key pair between encryptors sam (master, on client carol) and sunny (slave, on
# client curtis) over ETSI GS QKD 014 and check that both sides got the same key.
# Re-runnable: nodes that are already running are left running. The topology keeps running
# afterwards; stop it with the command printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

dske_cli() { node packages/dske-cli/dist/bin.js "$@"; }

dske_cli start

if ! dske_cli etsi-qkd sam sunny get-key-pair; then
  echo "main.sh: the key pair sam -> sunny FAILED (node logs: .dske/logs/*.log; status: node packages/dske-cli/dist/bin.js status)" >&2
  exit 1
fi

cat <<'MSG'

The DSKE topology is still running (logs in .dske/logs/, state in .dske/nodes/).
  status:  node packages/dske-cli/dist/bin.js status
  keys:    node packages/dske-cli/dist/bin.js etsi-qkd sam serena get-key-pair --size 256
  stop:    node packages/dske-cli/dist/bin.js stop
MSG
