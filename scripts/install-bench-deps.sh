#!/usr/bin/env bash
# Installs the Debian packages `npm run bench` drives (see bench/): the upstream and the reference
# proxy (docker-registry), image tools (umoci, skopeo), the static-file ceiling (nginx-light) and
# curl for big downloads. Not the e2e clients (podman, containerd): the bench never runs them.
# The bench starts its own nginx from a temp config on a loopback port; the packaged service is unused.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install-missing.sh" "bench deps" docker-registry skopeo umoci nginx-light curl
