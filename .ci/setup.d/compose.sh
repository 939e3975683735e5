#!/usr/bin/env bash
# compose tests need podman on runc without ulimits (crun fails on this CI host); build.sh may have done it.
set -euo pipefail
if command -v podman >/dev/null 2>&1; then
  mkdir -p /etc/containers
  if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'runtime = "runc"' /etc/containers/containers.conf; then
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' > /etc/containers/containers.conf
  fi
fi
