#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests drive (see test/e2e/).
# Idempotent and quick when everything is present: apt is only touched for
# packages that are missing, and `apt-get update` runs at most once.
set -euo pipefail

# One list; append clients here as their tests land. docker-registry plays the
# upstreams, umoci builds images, skopeo seeds and pulls; podman (rootful, vfs:
# no uidmap or fuse-overlayfs needed) and containerd (brings runc; its ctr
# pulls) are the clients under test.
PACKAGES=(docker-registry skopeo umoci podman containerd)

is_installed() {
  # dpkg-query exits 0 for removed-but-configured packages too, so read the status.
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "e2e deps: all present (${PACKAGES[*]})"
  exit 0
fi

# Root in CI containers and on fresh machines; sudo elsewhere.
SUDO=()
if ((EUID != 0)); then SUDO=(sudo -n); fi

echo "e2e deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
