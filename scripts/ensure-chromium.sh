#!/usr/bin/env bash
# The report's browser test needs Debian's headless Chromium. Install it when missing and we may
# (root with apt-get); otherwise say so: under CI=true that test then fails rather than skips.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the report's browser test..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  chromium --version
else
  echo "chromium is not installed and cannot be installed here (needs root and apt-get): the browser test will not run." >&2
fi
