#!/usr/bin/env bash
# usage: image-podman.sh PODMAN-ARGS…
# podman on the image tests' own store, kept between runs (the base image is cached there): its
# root under /var/cache/pullthrough/podman (PULLTHROUGH_IMAGE_STORE overrides), overlay storage,
# and its own containers.conf, registries.conf and policy, so the host's podman setup is neither
# read nor touched and short names resolve to what the store holds.
# The containers.conf suits sandboxes like CI's: runc (crun refuses a hybrid cgroup layout),
# cgroupfs and file events (no systemd), and rlimits no higher than this shell's, since a
# container may not raise them (podman's defaults would).
set -euo pipefail
store=${PULLTHROUGH_IMAGE_STORE:-/var/cache/pullthrough/podman}
mkdir -p "$store/tmp"
nofile=$(ulimit -Hn)
cat >"$store/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
[[ -f "$store/registries.conf" ]] || echo 'unqualified-search-registries = ["docker.io"]' >"$store/registries.conf"
export CONTAINERS_CONF="$store/containers.conf" CONTAINERS_REGISTRIES_CONF="$store/registries.conf"
exec podman \
  --root "$store/root" --runroot "$store/runroot" --tmpdir "$store/tmp" \
  --storage-driver overlay \
  "$@"
