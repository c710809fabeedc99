#!/usr/bin/env bash
# Installs the Debian packages the image test (test/image/) needs: podman (builds the Dockerfile
# with its built-in buildah, runs the image; runc, since crun refuses some sandboxes' cgroups),
# mmdebstrap (the base image's root filesystem, see build-base-image.sh), and the e2e tools that
# play the upstream and the client: docker-registry, umoci, skopeo.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install-missing.sh" "image deps" podman runc mmdebstrap docker-registry umoci skopeo
