#!/usr/bin/env bash
# compose tests need podman on runc without ulimits (crun fails on this CI host); build.sh may have done it.
# They also need a docker daemon: without systemd nothing starts Debian's dockerd, so start it here.
set -euo pipefail
if command -v podman >/dev/null 2>&1; then
  mkdir -p /etc/containers
  if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'runtime = "runc"' /etc/containers/containers.conf; then
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' > /etc/containers/containers.conf
  fi
fi
if command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "not root: cannot start dockerd (the docker tests will fail)" >&2
    exit 0
  fi
  # vfs works on any file system (the tests' image is a few MB); --iptables=false: ports are published
  # by docker-proxy on the host side, nothing needs NAT; cgroupfs: no systemd to hand cgroups to.
  setsid nohup dockerd --storage-driver=vfs --iptables=false --exec-opt native.cgroupdriver=cgroupfs \
    >/tmp/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if docker info >/dev/null 2>&1; then
    echo "dockerd started: $(docker info --format '{{.ServerVersion}}')"
  else
    echo "dockerd did not answer within 60s; last lines of /tmp/dockerd.log:" >&2
    tail -20 /tmp/dockerd.log >&2
  fi
fi
