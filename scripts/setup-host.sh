#!/usr/bin/env bash
# Host set-up for gopid1: a Docker engine that answers, QEMU, and the offline base-image bootstrapper.
# Idempotent. Never touches a Docker daemon that already answers. Installs with apt-get only when root on Debian.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
apt_install() {
  # apt_install PKG... : install the packages that are not installed yet
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! is_root || ! is_debian; then
    die "missing packages: ${missing[*]}. Install them (Debian: sudo apt-get install ${missing[*]}) and run make setup again."
  fi
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure_docker() {
  if command -v docker >/dev/null 2>&1 && docker_answers; then
    log "Docker engine answers (${DOCKER_HOST:-local socket}); leaving it as it is"
    return 0
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST is set but no engine answers there. Start that engine or unset DOCKER_HOST."
  fi
  is_root && is_debian || die "no Docker engine answers. Install and start one (Debian: sudo apt-get install docker.io && sudo systemctl start docker), then run make setup again."
  if ! command -v dockerd >/dev/null 2>&1; then
    # docker.io ships its own client; keep any client already on PATH first (it is only a client).
    apt_install docker.io
  fi
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd runs but does not answer yet; waiting"
  elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    log "starting docker with systemctl"
    systemctl start docker || true
  fi
  if ! docker_answers && ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd in the background (log: /var/log/gopid1-dockerd.log)"
    nohup dockerd >/var/log/gopid1-dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    docker_answers && { log "Docker engine answers"; return 0; }
    sleep 1
  done
  tail -n 20 /var/log/gopid1-dockerd.log >&2 2>/dev/null || true
  die "dockerd did not answer within 60 s; see /var/log/gopid1-dockerd.log"
}

ensure_host_tools() {
  # QEMU (SeaBIOS comes with it), OVMF for UEFI boots, mmdebstrap for offline base images, cpio and file for tests.
  command -v qemu-system-x86_64 >/dev/null 2>&1 || apt_install qemu-system-x86
  apt_install mmdebstrap cpio ovmf file
}

ensure_docker
ensure_host_tools
