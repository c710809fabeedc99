#!/usr/bin/env bash
# Installs the Debian packages `npm run bench` drives (see bench/): the
# upstream and the reference proxy (docker-registry), image tools (umoci,
# skopeo), the static-file ceiling (nginx-light) and curl for big downloads.
# Same contract as install-e2e-deps.sh: idempotent, apt only for what is
# missing. A separate list, so the bench does not pull in the e2e clients
# (podman, containerd) it never runs and stays within its time budget.
set -euo pipefail

PACKAGES=(docker-registry skopeo umoci nginx-light curl)

is_installed() {
  # dpkg-query exits 0 for removed-but-configured packages too, so read the status.
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "bench deps: all present (${PACKAGES[*]})"
  exit 0
fi

SUDO=()
if ((EUID != 0)); then SUDO=(sudo -n); fi

echo "bench deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update
# The bench runs its own nginx from a temp config on a loopback port; the
# packaged service (started or not, as the host's policy-rc.d decides) is unused.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
