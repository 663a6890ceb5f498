#!/usr/bin/env bash
# gopid1 ISO builder step. Runs inside the ISO builder container.
#   /iso/in/bzImage, /iso/in/initramfs.cpio[.zst|.xz|.gz], /iso/in/grub.cfg, /iso/in/early.cfg   inputs
#   /iso/out/image.iso, /iso/out/boot_hybrid.img (x86 only)                             outputs
# Environment: GOPID1_NAME (application id), GOPID1_VOLID (volume id), GOPID1_UEFI (0|1),
#   GOPID1_EFI_ARCH (x86_64: GRUB's BIOS El Torito image first, with GOPID1_UEFI=1 an EFI entry after it; arm64:
#   the EFI entry alone, EFI/BOOT/BOOTAA64.EFI, as there is no BIOS), GOPID1_KERNEL_FILE (the kernel's name in /boot),
#   GOPID1_MARKER (file the early config searches for), GOPID1_BIOS_MODULES, GOPID1_EFI_MODULES,
#   SOURCE_DATE_EPOCH (dates in efi.img; the caller rewrites the ISO's own dates).
set -euo pipefail

# Who this step runs as and what network it has (an unprivileged user, loopback only).
echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status), root $(awk '$5 == "/" { split($6, o, ","); print o[1]; exit }' /proc/self/mountinfo)"
root=/iso/root
rm -rf "$root" && mkdir -p "$root/boot/grub" /iso/out
efi_arch=${GOPID1_EFI_ARCH:-x86_64}
case "$efi_arch" in
  x86_64) efi_name=BOOTX64.EFI; bios=yes ;;
  arm64) efi_name=BOOTAA64.EFI; bios=no ;;
  *) echo "gopid1: unknown GOPID1_EFI_ARCH $efi_arch (x86_64 or arm64)" >&2; exit 2 ;;
esac
if [ "$bios" = no ] && [ "${GOPID1_UEFI:-0}" != 1 ]; then echo "gopid1: an $efi_arch ISO boots under UEFI alone: set GOPID1_UEFI=1" >&2; exit 2; fi
cp /iso/in/bzImage "$root/boot/${GOPID1_KERNEL_FILE:-bzImage}"
cp /iso/in/initramfs.cpio* "$root/boot/"
cp /iso/in/grub.cfg "$root/boot/grub/grub.cfg"
# The marker the early config searches for, so GRUB finds this medium and not another disk's /boot.
: > "$root/boot/grub/$GOPID1_MARKER"

bios_entry=()
if [ "$bios" = yes ]; then
  echo "gopid1: BIOS El Torito image (i386-pc-eltorito): $GOPID1_BIOS_MODULES"
  # shellcheck disable=SC2086
  grub-mkimage -O i386-pc-eltorito -c /iso/in/early.cfg -p /boot/grub -o "$root/boot/grub/bios.img" $GOPID1_BIOS_MODULES
  # For USB sticks: GRUB's hybrid MBR boot code, which the caller writes into the ISO's system area.
  cp /usr/lib/grub/i386-pc/boot_hybrid.img /iso/out/boot_hybrid.img
  bios_entry=(-b boot/grub/bios.img -no-emul-boot -boot-load-size 4 -boot-info-table)
fi

efi_entry=()
if [ "${GOPID1_UEFI:-0}" = 1 ]; then
  echo "gopid1: UEFI image ($efi_arch-efi): $GOPID1_EFI_MODULES"
  # shellcheck disable=SC2086
  grub-mkimage -O "$efi_arch-efi" -c /iso/in/early.cfg -p /boot/grub -o "/iso/$efi_name" $GOPID1_EFI_MODULES
  # A FAT image just large enough for EFI/BOOT/<efi_name>: the El Torito EFI entry and the USB ESP. Fixed
  # volume id; mkfs.fat and mtools take their dates from SOURCE_DATE_EPOCH, mcopy -m the file's own.
  kib=$(( ( $(stat -c %s "/iso/$efi_name") / 1024 ) + 96 ))
  rm -f "$root/boot/efi.img"
  touch -d "@${SOURCE_DATE_EPOCH:-0}" "/iso/$efi_name"
  mkfs.fat -C -n GOPID1EFI -i 47505031 "$root/boot/efi.img" "$kib" >/dev/null
  mmd -i "$root/boot/efi.img" ::/EFI ::/EFI/BOOT
  mcopy -m -i "$root/boot/efi.img" "/iso/$efi_name" "::/EFI/BOOT/$efi_name"
  # After a BIOS entry it is an alternative; alone it is the default entry, on the EFI platform.
  if [ "$bios" = yes ]; then efi_entry=(-eltorito-alt-boot); fi
  efi_entry+=(-e boot/efi.img -no-emul-boot)
fi

# -no-pad: the caller pads to the 32 KiB GRUB needs instead of genisoimage's 300 KiB.
echo "gopid1: mastering with genisoimage"
genisoimage -quiet -no-pad -R -input-charset utf-8 -V "$GOPID1_VOLID" -A "$GOPID1_NAME" -sysid LINUX \
  -c boot/boot.cat "${bios_entry[@]}" "${efi_entry[@]}" -o /iso/out/image.iso "$root"
echo "gopid1: mastered $(stat -c %s /iso/out/image.iso) bytes"
