#!/usr/bin/env bash
# usage: build-image.sh TAG
# Builds the project's Dockerfile, unchanged, with podman into the image tests' store
# (image-podman.sh), on the locally assembled base image (build-base-image.sh). Docker format, so
# HEALTHCHECK is kept (OCI images have no such field). The build stage's `npm ci` reaches only the
# npm registry: it runs on the host's network, reuses the host's npm cache (filled by the
# checkout's own `npm ci`), and trusts the CA bundle Node is told to trust here
# (NODE_EXTRA_CA_CERTS), mounted for the build only: nothing of it lands in the image.
set -euo pipefail
tag=${1:?usage: build-image.sh TAG}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

bash "$here/build-base-image.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mounts=(-v "$(npm config get cache):/root/.npm")
echo 'prefer-offline=true' >"$work/npmrc"
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
  mounts+=(-v "$NODE_EXTRA_CA_CERTS:/etc/ssl/certs/build-ca.crt:ro")
  echo 'cafile=/etc/ssl/certs/build-ca.crt' >>"$work/npmrc"
fi
mounts+=(-v "$work/npmrc:/root/.npmrc:ro")

started=$SECONDS
"$here/image-podman.sh" build --quiet --pull=never --format docker --network host "${mounts[@]}" -t "$tag" "$repo"
# Untagged leftovers (earlier builds, this build's first stage) would pile up run after run.
"$here/image-podman.sh" image prune -f >/dev/null
echo "image: $tag built in $((SECONDS - started))s, $("$here/image-podman.sh" image inspect --format '{{.Size}}' "$tag") bytes"
