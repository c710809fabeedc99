#!/usr/bin/env bash
# Installs Ceph's RADOS Gateway and the daemons a throwaway single-node cluster needs (one monitor,
# one OSD), for the S3 tests and `npm run bench:s3` (see scripts/rgw.sh). The packaged services are
# never started: rgw.sh runs its own daemons from a temp dir.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install-missing.sh" "rgw deps" radosgw ceph-mon ceph-osd ceph-common
