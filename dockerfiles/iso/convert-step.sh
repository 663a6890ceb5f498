#!/usr/bin/env bash
# gopid1 convert step: the raw disk in the image format a hypervisor or cloud imports.
# Runs inside the ISO builder container.
#   /iso/in/disk.raw      the raw GPT disk
#   /iso/out/<GOPID1_FILE>  the converted image
# Environment: GOPID1_TARGET (qcow2 | vmdk | vhd | gcp), GOPID1_FILE (output file name), SOURCE_DATE_EPOCH.
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net))"
mkdir -p /iso/out
out="/iso/out/$GOPID1_FILE"
echo "gopid1: $(qemu-img --version | head -n 1)"
case "$GOPID1_TARGET" in
  qcow2)
    qemu-img convert -f raw -O qcow2 /iso/in/disk.raw "$out" ;;
  vmdk)
    # Converted in the out dir under its final name: the descriptor's extent line names the file itself.
    (cd /iso/out && qemu-img convert -f raw -O vmdk -o subformat=streamOptimized /iso/in/disk.raw "$GOPID1_FILE") ;;
  vhd)
    # Fixed VHD with the raw disk's exact size (force_size: no CHS rounding), as Azure requires.
    qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on /iso/in/disk.raw "$out" ;;
  gcp)
    # Compute Engine's import format: disk.raw alone in a GNU (oldgnu) tar, sparse, gzip; fixed owner, mode and time.
    mkdir -p /iso/gcp && cp /iso/in/disk.raw /iso/gcp/disk.raw
    tar --format=oldgnu --sparse --hole-detection=raw --owner=0 --group=0 --numeric-owner --mode=0644 \
      --mtime="@${SOURCE_DATE_EPOCH:-0}" -C /iso/gcp -cf - disk.raw | gzip -9 -n > "$out" ;;
  *)
    echo "gopid1: unknown target $GOPID1_TARGET" >&2; exit 2 ;;
esac
[ "$GOPID1_TARGET" = gcp ] || qemu-img check "$out" 2>&1 | tail -n 1 || true
echo "gopid1: $GOPID1_FILE $(stat -c %s "$out") bytes"
