#!/usr/bin/env bash
# Installs Debian's chromium, which the status page test (test/e2e/status-page.test.ts) drives
# headless through puppeteer-core; fonts-dejavu-core so the screenshot has real glyphs.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install-missing.sh" "browser deps" chromium fonts-dejavu-core
