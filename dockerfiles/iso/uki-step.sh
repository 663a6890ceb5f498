#!/usr/bin/env bash
# gopid1 UKI step: a Unified Kernel Image made by systemd-ukify from Debian's systemd-stub.
# Runs inside the ISO builder container.
#   /iso/in/bzImage, /iso/in/initrd, /iso/in/cmdline, /iso/in/os-release   inputs
#   /iso/out/uki.efi                                                        the image: one PE file, UEFI starts it
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status), root $(awk '$5 == "/" { split($6, o, ","); print o[1]; exit }' /proc/self/mountinfo)"
mkdir -p /iso/out
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
echo "gopid1: $(ukify --version), stub $(dpkg-query -W -f='systemd-boot-efi ${Version}' systemd-boot-efi)"
ukify build --stub "$stub" --linux /iso/in/bzImage --initrd /iso/in/initrd \
  --cmdline "@/iso/in/cmdline" --os-release "@/iso/in/os-release" --output /iso/out/uki.efi
echo "gopid1: $(stat -c %s /iso/out/uki.efi) bytes"
