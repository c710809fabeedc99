#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests drive (see test/e2e/): docker-registry plays
# the upstreams, umoci builds images, skopeo seeds and pulls; podman (rootful, vfs: no uidmap or
# fuse-overlayfs needed) and containerd (brings runc; its ctr pulls) are the clients under test.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install-missing.sh" "e2e deps" docker-registry skopeo umoci podman containerd
