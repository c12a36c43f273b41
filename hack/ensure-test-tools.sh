#!/usr/bin/env bash
# Installs what the end-to-end tests need and a fresh Debian/Ubuntu machine may lack: iptables
# and iproute2 (nodes are network namespaces, cuts are iptables rules) and kubectl. Installs
# only as root with apt-get; otherwise it names what is missing and the tests say which they skip.
set -euo pipefail
need=()
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
command -v kubectl >/dev/null || need+=(kubectl)
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} with apt-get" >&2
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "apt-get install ${need[*]} failed; the end-to-end tests that need them will fail" >&2
  fi
  rm -f "$log"
else
  echo "missing ${need[*]}: install them (as root: apt-get install ${need[*]}); the end-to-end tests need them" >&2
fi
