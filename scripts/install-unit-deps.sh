#!/usr/bin/env bash
# Installs the Debian packages the unit suite (npm test) needs: openssl (the TLS tests of listen and
# of upstreams make their CA and keys with it), Ceph's RGW for the S3 suites and redis-server for the
# cluster suites.
set -euo pipefail
here=$(dirname "$0")
bash "$here/apt-install-missing.sh" "unit deps" openssl
bash "$here/install-rgw-deps.sh"
exec bash "$here/install-redis-deps.sh"
