#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests drive (see test/e2e/): docker-registry plays
# the upstreams, umoci builds images, skopeo seeds and pulls; podman (rootful, vfs: no uidmap or
# fuse-overlayfs needed) and containerd (brings runc; its ctr pulls) are the clients under test;
# chromium (install-browser-deps.sh) loads the status page.
set -euo pipefail
bash "$(dirname "$0")/install-browser-deps.sh"
exec bash "$(dirname "$0")/apt-install-missing.sh" "e2e deps" docker-registry skopeo umoci podman containerd
