#!/usr/bin/env bash
# The browser the Mini App's tests drive: Debian's chromium (Playwright cannot download its own browser here)
# and fonts with Cyrillic glyphs for the screenshots. Idempotent and quiet when both are present.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  echo "browser: installing ${need[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
