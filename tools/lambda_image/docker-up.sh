#!/usr/bin/env bash
# Makes sure a Docker daemon answers, for the sam test tier: as root, installs Debian's docker.io (with
# iptables, which its default bridge network needs, and debootstrap for the stand-in image) and starts
# dockerd when none is running. Without root it changes nothing and says so in one line; the tier then
# skips with its own line (CI, which runs as root, always runs it).
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "docker: no Docker daemon answers and this is not root: the sam tier (tests/sam) will be skipped" >&2
  exit 0
fi
if ! command -v dockerd >/dev/null || ! command -v iptables >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "docker: installing Debian's docker.io, iptables, debootstrap ..."
  # One apt at a time: `make -j` may be installing Chromium beside this.
  flock /tmp/bakeoff-apt.lock sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iptables debootstrap >/dev/null'
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "docker: starting dockerd (log: /var/log/bakeoff-dockerd.log)"
  setsid nohup dockerd >/var/log/bakeoff-dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "docker: dockerd did not answer within 60 s; its log:" >&2
tail -n 20 /var/log/bakeoff-dockerd.log >&2 || true
exit 1
