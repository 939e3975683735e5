#!/usr/bin/env bash
# The sandbox tests run every backend as a normal user too: `helpsbx`, with a login shell (firejail runs
# nothing for a user without one) and its own /etc/subuid and /etc/subgid range (rootless podman).
set -euo pipefail
if ! id helpsbx >/dev/null 2>&1; then
  useradd --shell /bin/sh --no-create-home -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 helpsbx
fi
grep -q '^helpsbx:' /etc/subuid 2>/dev/null || usermod --add-subuids 400000-465535 helpsbx
grep -q '^helpsbx:' /etc/subgid 2>/dev/null || usermod --add-subgids 400000-465535 helpsbx
