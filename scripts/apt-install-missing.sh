#!/usr/bin/env bash
# usage: apt-install-missing.sh LABEL PACKAGE…
# Installs the Debian packages that are not installed yet; quick when all are: apt is only
# touched for what is missing, and `apt-get update` runs at most once. Root, or sudo -n.
set -euo pipefail
label=$1
shift

is_installed() {
  # dpkg-query exits 0 for removed-but-configured packages too, so read the status.
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for pkg in "$@"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "$label: all present ($*)"
  exit 0
fi

SUDO=()
if ((EUID != 0)); then SUDO=(sudo -n); fi

# Two suites (or a helper and CI) may install at once: wait for the other's dpkg lock instead of failing.
lock=(-o DPkg::Lock::Timeout=600)
echo "$label: installing ${missing[*]}"
"${SUDO[@]}" apt-get "${lock[@]}" update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get "${lock[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null
