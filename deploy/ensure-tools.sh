#!/usr/bin/env bash
# Tools the deploy checks run (tests/unit/test_deploy.py): promtool, from Debian's `prometheus` package, checks
# deploy/alerts.yml and deploy/prometheus.yml. Idempotent and quiet when it is present.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  echo "tools: installing prometheus (apt, for promtool)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends prometheus >/dev/null
fi
