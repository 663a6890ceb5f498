#!/usr/bin/env bash
# gopid1 convert step: the raw disk in the image format a hypervisor or cloud imports.
# Runs inside the ISO builder container.
#   /iso/in/disk.head     the raw GPT disk's data, from its start
#   /iso/in/disk.tail     its last MiB (the backup GPT); the disk holds zeros between them
#   /iso/out/<GOPID1_FILE>  the converted image
# Environment: GOPID1_TARGET (qcow2 | vmdk | vhd | gcp), GOPID1_FILE (output file name), GOPID1_DISK_BYTES (the
#   disk's size), SOURCE_DATE_EPOCH.
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status), root $(awk '$5 == "/" { split($6, o, ","); print o[1]; exit }' /proc/self/mountinfo)"
mkdir -p /iso/out
out="/iso/out/$GOPID1_FILE"
echo "gopid1: $(qemu-img --version | head -n 1)"
# The disk again, sparse: its data, a hole, its backup GPT; sgdisk checks the two GPTs agree.
disk=/iso/disk/disk.raw
mkdir -p /iso/disk && truncate -s "$GOPID1_DISK_BYTES" "$disk"
dd if=/iso/in/disk.head of="$disk" bs=1M conv=notrunc status=none
dd if=/iso/in/disk.tail of="$disk" bs=512 seek=$(( (GOPID1_DISK_BYTES - $(stat -c %s /iso/in/disk.tail)) / 512 )) conv=notrunc status=none
verdict=$(sgdisk -v "$disk" 2>&1 || true)
case "$verdict" in *"No problems found"*) ;; *) echo "$verdict" >&2; exit 1 ;; esac
case "$GOPID1_TARGET" in
  qcow2)
    qemu-img convert -f raw -O qcow2 "$disk" "$out" ;;
  vmdk)
    # Converted in the out dir under its final name: the descriptor's extent line names the file itself.
    (cd /iso/out && qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$disk" "$GOPID1_FILE") ;;
  vhd)
    # Fixed VHD with the raw disk's exact size (force_size: no CHS rounding), as Azure requires.
    qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$disk" "$out" ;;
  gcp)
    # Compute Engine's import format: disk.raw alone in a GNU (oldgnu) tar, sparse, gzip; fixed owner, mode and time.
    mkdir -p /iso/gcp && mv "$disk" /iso/gcp/disk.raw
    tar --format=oldgnu --sparse --hole-detection=raw --owner=0 --group=0 --numeric-owner --mode=0644 \
      --mtime="@${SOURCE_DATE_EPOCH:-0}" -C /iso/gcp -cf - disk.raw | gzip -9 -n > "$out" ;;
  *)
    echo "gopid1: unknown target $GOPID1_TARGET" >&2; exit 2 ;;
esac
[ "$GOPID1_TARGET" = gcp ] || qemu-img check "$out" 2>&1 | tail -n 1 || true
echo "gopid1: $GOPID1_FILE $(stat -c %s "$out") bytes"
