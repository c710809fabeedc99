#!/usr/bin/env bash
# Installs Debian's redis-server (and redis-cli) for the cluster tests, which start their own
# servers on free ports (test/e2e/harness/redis.ts). The packaged service is never wanted: a policy
# file keeps invoke-rc.d from starting it during the install, and it is stopped and disabled if it
# runs anyway (an install done before this script), so nothing holds 6379.
set -euo pipefail
SUDO=()
if ((EUID != 0)); then SUDO=(sudo -n); fi

policy=/usr/sbin/policy-rc.d
added_policy=
if [[ ! -e $policy ]]; then
  # 101 = "action not allowed": the maintainer scripts skip starting services.
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod +x "$policy"
  added_policy=1
fi
cleanup() { if [[ -n $added_policy ]]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

bash "$(dirname "$0")/apt-install-missing.sh" "redis deps" redis-server redis-tools

# A service started by an earlier install (systemd machines): stop it and keep it off.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  "${SUDO[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
