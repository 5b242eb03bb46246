#!/usr/bin/env bash
# Installs the system packages some tests and examples need, if missing (Debian):
#   chromium  headless browser for the `dske-cli dashboard` test (driven by playwright-core)
#   openssl   TLS 1.3 external-PSK example (examples/tls-psk)
#   jq        the user guide's `dske-cli status | jq` recipes (packages/dske-cli/test/system/status-jq.ts)
#   iproute2  `ip netns`, veth pairs and bridges for the network-namespace tests (*netns*.test.ts)
#   nftables  `nft` drop rules for partitions and random loss in those tests
#   iputils-ping  `ping` across namespaces (the netns harness checks its bridge with it)
#   wireguard-go  userspace WireGuard over TUN for examples/wireguard-psk (no kernel module needed)
#   wireguard-tools  `wg` to configure it and set the rotated preshared keys (examples/wireguard-psk)
#   systemd   `systemd-analyze verify` of the units `dske-cli systemd` writes (packages/dske-cli/test/systemd.test.ts)
#   prometheus  `promtool check metrics` on a running node's /metrics (packages/dske-cli/test/system/promtool.test.ts)
#   postgresql  initdb/pg_ctl for the throwaway clusters of the *postgres* tests (Debian keeps them in /usr/lib/postgresql/*/bin; its own cluster and service are not used)
# A no-op when all are present. Needs root (or passwordless sudo) and apt-get; without them it
# prints what is missing and returns 0, so that the rest of the setup goes on: the tests that
# need the missing program then fail with a message naming this script.
set -uo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
command -v ping >/dev/null 2>&1 || [ -x /usr/bin/ping ] || missing+=(iputils-ping)
command -v wireguard-go >/dev/null 2>&1 || [ -x /usr/bin/wireguard-go ] || missing+=(wireguard-go)
command -v wg >/dev/null 2>&1 || [ -x /usr/bin/wg ] || missing+=(wireguard-tools)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "install-system-deps: missing ${missing[*]}; not root and no passwordless sudo: install them by hand (apt-get install ${missing[*]})" >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${missing[*]}; apt-get not available: install them by hand" >&2
  exit 0
fi

echo "install-system-deps: installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update -qq >/dev/null; then
  echo "install-system-deps: apt-get update failed; missing ${missing[*]}: the tests that need them will fail until they are installed" >&2
elif ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # One package whose install script fails (a service that cannot start without systemd as PID 1,
  # say) must not keep the others out: retry one by one and name the ones that fail.
  "${as_root[@]}" dpkg --configure -a >/dev/null 2>&1 || true
  for pkg in "${missing[@]}"; do
    if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; then
      echo "install-system-deps: apt-get failed to install $pkg; the tests that need it will fail until it is installed" >&2
    fi
  done
fi
exit 0
