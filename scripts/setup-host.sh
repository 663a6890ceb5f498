#!/usr/bin/env bash
# Host set-up for gopid1: a Docker engine that answers, QEMU, and the offline base-image bootstrapper.
# Idempotent. Never touches a Docker daemon that already answers. Installs with apt-get only when root on Debian.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
missing_packages() {
  local p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"; done
}
apt_install() {
  # apt_install PKG... : install the packages that are not installed yet (root on Debian), else fail saying how
  local missing
  mapfile -t missing < <(missing_packages "$@")
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
  # pidof comes with sysvinit-utils, which every Debian has (pgrep needs procps, which minimal ones lack).
  if [ -S /var/run/docker.sock ] && pidof dockerd >/dev/null 2>&1; then
    log "dockerd runs but does not answer yet; waiting"
  elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    # Under systemd, docker is systemd's to run: a masked or failing unit is reported, never worked around with a
    # second dockerd that systemd does not know of.
    log "starting docker with systemctl"
    systemctl start docker || die "systemctl start docker failed ($(systemctl is-enabled docker 2>&1 || true)); see systemctl status docker and journalctl -u docker, fix the unit (systemctl unmask docker if it is masked), then run make setup again."
  fi
  if ! docker_answers && ! pidof dockerd >/dev/null 2>&1 && ! [ -d /run/systemd/system ]; then
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
  # QEMU (SeaBIOS comes with it) is needed to boot anything.
  command -v qemu-system-x86_64 >/dev/null 2>&1 || apt_install qemu-system-x86
  # OVMF for UEFI boots, qemu-system-arm and qemu-efi-aarch64 (AAVMF) for arm64 machines and their disks, mmdebstrap
  # for offline base images, cpio, file, zstd, xz, iproute2 and qemu-utils (qemu-img) for the tests: installed when we
  # can; without root they are only reported, since most uses need none of them.
  local optional
  mapfile -t optional < <(missing_packages mmdebstrap cpio ovmf qemu-system-arm qemu-efi-aarch64 file zstd xz-utils iproute2 qemu-utils)
  [ ${#optional[@]} -eq 0 ] && return 0
  if is_root && is_debian; then
    apt_install "${optional[@]}"
  else
    log "not installed: ${optional[*]} (UEFI boots, arm64 machines, offline base images and the tests need them: sudo apt-get install ${optional[*]})"
  fi
}

ensure_node() {
  # gopid1 and its dependencies (ora, commander 14, execa 9) need Node.js 20.5 or later with npm.
  local version
  version=$(node --version 2>/dev/null || true)
  if ! printf '%s' "$version" | grep -Eq '^v(2[1-9]|[3-9][0-9]|20\.([5-9]|[1-9][0-9]))'; then
    die "Node.js 20.5 or later is needed (found: ${version:-none}). Install Node.js 20 or 22 with npm (Debian 12's own nodejs is 18: use NodeSource's node_20.x repository), then run make setup again."
  fi
}

ensure_node
ensure_docker
ensure_host_tools
