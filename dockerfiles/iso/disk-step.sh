#!/usr/bin/env bash
# gopid1 disk step: a GPT disk image that boots under BIOS and UEFI (GRUB), or under UEFI from a Unified Kernel
# Image, made without loop devices or mounts. Runs inside the ISO builder container.
#   /iso/in/bzImage (the kernel, an arm64 Image too), /iso/in/initramfs.cpio[.zst|.xz|.gz], /iso/in/grub.cfg,
#   /iso/in/early.cfg    inputs (grub)
#   /iso/in/uki.efi      input (uki): the ESP's EFI/BOOT/BOOTX64.EFI, alone
#   /iso/out/disk.head   the disk up to the end of the ESP: GPT (protective MBR without boot code), BIOS boot
#                        partition left empty (grub), the ESP filled
#   /iso/out/disk.tail   the disk's last MiB: the backup GPT. Between them the disk holds only zeros, so a disk of
#                        any size travels as these two files and the caller writes them into a sparse file
#   /iso/out/layout      "<smallest MiB that fits> <MiB of the disk>"
#   /iso/out/core.img    (grub, x86_64) GRUB's i386-pc core image; the caller writes it into the BIOS boot partition
#   /iso/out/boot.img    (grub, x86_64) GRUB's MBR boot code; the caller writes its first 440 bytes over the MBR
# Environment: GOPID1_BOOT (grub or uki), GOPID1_EFI_ARCH (x86_64: BIOS + UEFI with GRUB; arm64: UEFI alone, GRUB as
#   EFI/BOOT/BOOTAA64.EFI, no BIOS boot partition), GOPID1_KERNEL_FILE (the kernel's name on the ESP), GOPID1_MARKER (file the early config searches for), GOPID1_BIOS_MODULES,
#   GOPID1_EFI_MODULES, GOPID1_DISK_GUID, GOPID1_BIOS_GUID, GOPID1_ESP_GUID (fixed GUIDs), GOPID1_FAT_ID
#   (8 hex digits), GOPID1_DISK_MIB (the disk's size when larger than what fits; the ESP stays the size it needs),
#   SOURCE_DATE_EPOCH (dates inside the FAT).
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), capabilities $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status), no_new_privs $(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status), root $(awk '$5 == "/" { split($6, o, ","); print o[1]; exit }' /proc/self/mountinfo)"
work=/iso/disk
rm -rf "$work" && mkdir -p "$work" /iso/out

boot=${GOPID1_BOOT:-grub}
efi_arch=${GOPID1_EFI_ARCH:-x86_64}
kernel_file=${GOPID1_KERNEL_FILE:-bzImage}
epoch=${SOURCE_DATE_EPOCH:-0}
case "$efi_arch" in
  x86_64) efi_name=BOOTX64.EFI ;;
  arm64) efi_name=BOOTAA64.EFI ;;
  *) echo "gopid1: unknown GOPID1_EFI_ARCH $efi_arch (x86_64 or arm64)" >&2; exit 2 ;;
esac
# A BIOS boot partition (GRUB's core image) only where there is a BIOS: x86 with GRUB.
if [ "$boot" = grub ] && [ "$efi_arch" = x86_64 ]; then bios=yes; else bios=no; fi
if [ "$boot" = uki ]; then
  echo "gopid1: UEFI only: the UKI is EFI/BOOT/$efi_name, no boot loader"
  cp /iso/in/uki.efi "$work/$efi_name"
  esp_files=("$work/$efi_name")
else
  initramfs=$(basename /iso/in/initramfs.cpio*)
  echo "gopid1: UEFI image ($efi_arch-efi): $GOPID1_EFI_MODULES"
  # shellcheck disable=SC2086
  grub-mkimage -O "$efi_arch-efi" -c /iso/in/early.cfg -p /boot/grub -o "$work/$efi_name" $GOPID1_EFI_MODULES
  esp_files=("$work/$efi_name" /iso/in/bzImage "/iso/in/$initramfs" /iso/in/grub.cfg)
fi
if [ "$bios" = yes ]; then
  echo "gopid1: BIOS core image (i386-pc): $GOPID1_BIOS_MODULES"
  # shellcheck disable=SC2086
  grub-mkimage -O i386-pc -c /iso/in/early.cfg -p /boot/grub -o /iso/out/core.img $GOPID1_BIOS_MODULES
  cp /usr/lib/grub/i386-pc/boot.img /iso/out/boot.img
  core_sectors=$(( ( $(stat -c %s /iso/out/core.img) + 511 ) / 512 ))
  if [ "$core_sectors" -gt 2048 ]; then echo "gopid1: the core image ($core_sectors sectors) does not fit the 1 MiB BIOS boot partition" >&2; exit 1; fi
fi

# The ESP: everything the firmware, GRUB and Linux read, plus 10% and 256 KiB for FAT's own tables, in whole MiB.
payload=0
for f in "${esp_files[@]}"; do payload=$(( payload + $(stat -c %s "$f") )); done
esp_mib=$(( ( payload + payload / 10 + 262144 + 1048575 ) / 1048576 ))
# 1 MiB for the protective MBR, the GPT and alignment, the 1 MiB BIOS boot partition (grub), the ESP, 1 MiB for
# the backup GPT.
if [ "$bios" = yes ]; then esp_start_mib=2; else esp_start_mib=1; fi
min_mib=$(( esp_start_mib + esp_mib + 1 ))
disk_mib=$min_mib
if [ "${GOPID1_DISK_MIB:-0}" -gt "$disk_mib" ]; then disk_mib=$GOPID1_DISK_MIB; fi
echo "$min_mib $disk_mib" > /iso/out/layout
echo "gopid1: ESP $esp_mib MiB ($payload bytes of files), disk $disk_mib MiB (at least $min_mib)"

# Dates inside the FAT come from SOURCE_DATE_EPOCH (mkfs.fat and mtools honour it), file dates from touch.
for f in "${esp_files[@]}"; do touch -d "@$epoch" "$f" 2>/dev/null || true; done
mkfs.fat -C --invariant -i "$GOPID1_FAT_ID" -n GOPID1ESP "$work/esp.img" $(( esp_mib * 1024 )) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -m -i "$work/esp.img" "$work/$efi_name" "::/EFI/BOOT/$efi_name"
if [ "$boot" = grub ]; then
  mmd -i "$work/esp.img" ::/boot ::/boot/grub
  mcopy -m -i "$work/esp.img" /iso/in/bzImage "::/boot/$kernel_file"
  mcopy -m -i "$work/esp.img" "/iso/in/$initramfs" "::/boot/$initramfs"
  mcopy -m -i "$work/esp.img" /iso/in/grub.cfg ::/boot/grub/grub.cfg
  : > "$work/$GOPID1_MARKER" && touch -d "@$epoch" "$work/$GOPID1_MARKER"
  mcopy -m -i "$work/esp.img" "$work/$GOPID1_MARKER" "::/boot/grub/$GOPID1_MARKER"
fi

echo "gopid1: partitioning with sgdisk"
truncate -s "${disk_mib}M" "$work/disk.raw"
if [ "$bios" = no ]; then
  sgdisk --clear -U "$GOPID1_DISK_GUID" \
    -n "1:2048:+${esp_mib}M" -t 1:EF00 -u "1:$GOPID1_ESP_GUID" -c 1:ESP \
    "$work/disk.raw" >/dev/null
else
  sgdisk --clear -U "$GOPID1_DISK_GUID" \
    -n 1:2048:4095 -t 1:EF02 -u "1:$GOPID1_BIOS_GUID" -c 1:bios \
    -n "2:4096:+${esp_mib}M" -t 2:EF00 -u "2:$GOPID1_ESP_GUID" -c 2:ESP \
    "$work/disk.raw" >/dev/null
fi
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek="$esp_start_mib" conv=notrunc,sparse status=none
verdict=$(sgdisk -v "$work/disk.raw" 2>&1 || true)
case "$verdict" in *"No problems found"*) ;; *) echo "$verdict" >&2; exit 1 ;; esac
dd if="$work/disk.raw" of=/iso/out/disk.head bs=1M count=$(( min_mib - 1 )) status=none
dd if="$work/disk.raw" of=/iso/out/disk.tail bs=1M skip=$(( disk_mib - 1 )) status=none
echo "gopid1: disk $(stat -c %s "$work/disk.raw") bytes, GPT verified by sgdisk -v"
