#!/usr/bin/env bash
# gopid1 UKI step: a Unified Kernel Image made by systemd-ukify from Debian's systemd-stub.
# Runs inside the ISO builder container.
#   /iso/in/bzImage, /iso/in/initrd, /iso/in/cmdline, /iso/in/os-release   inputs
#   /iso/out/uki.efi                                                        the image: one PE file, UEFI starts it
# Environment: GOPID1_EFI_ARCH (x86_64, or arm64: the kernel is an arm64 Image, the stub arm64's systemd-stub).
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status), root $(awk '$5 == "/" { split($6, o, ","); print o[1]; exit }' /proc/self/mountinfo)"
mkdir -p /iso/out
case "${GOPID1_EFI_ARCH:-x86_64}" in
  x86_64) stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub; stub_package=$(dpkg-query -W -f='systemd-boot-efi ${Version}' systemd-boot-efi) ;;
  arm64) stub=/opt/gopid1/arm64/usr/lib/systemd/boot/efi/linuxaa64.efi.stub; stub_package=$(sed -n 's/^systemd-boot-efi:arm64=/systemd-boot-efi:arm64 /p' /usr/share/gopid1-packages.txt) ;;
  *) echo "gopid1: unknown GOPID1_EFI_ARCH $GOPID1_EFI_ARCH (x86_64 or arm64)" >&2; exit 2 ;;
esac
echo "gopid1: $(ukify --version), stub $stub_package"
ukify build --stub "$stub" --linux /iso/in/bzImage --initrd /iso/in/initrd \
  --cmdline "@/iso/in/cmdline" --os-release "@/iso/in/os-release" --output /iso/out/uki.efi
echo "gopid1: $(stat -c %s /iso/out/uki.efi) bytes"
