#!/usr/bin/env bash
# gopid1 disk step: a GPT disk image that boots under BIOS and UEFI, made without loop devices or mounts.
# Runs inside the ISO builder container.
#   /iso/in/bzImage, /iso/in/initramfs.cpio[.zst|.xz|.gz], /iso/in/grub.cfg, /iso/in/early.cfg   inputs
#   /iso/out/disk.head   the disk up to the end of the ESP: GPT (protective MBR without boot code), BIOS boot
#                        partition left empty, the ESP filled
#   /iso/out/disk.tail   the disk's last MiB: the backup GPT. Between them the disk holds only zeros, so a disk of
#                        any size travels as these two files and the caller writes them into a sparse file
#   /iso/out/layout      "<smallest MiB that fits> <MiB of the disk>"
#   /iso/out/core.img    GRUB's i386-pc core image; the caller writes it into the BIOS boot partition
#   /iso/out/boot.img    GRUB's MBR boot code; the caller writes its first 440 bytes over the MBR
# Environment: GOPID1_MARKER (file the early config searches for), GOPID1_BIOS_MODULES, GOPID1_EFI_MODULES,
#   GOPID1_DISK_GUID, GOPID1_BIOS_GUID, GOPID1_ESP_GUID (fixed GUIDs), GOPID1_FAT_ID (8 hex digits),
#   GOPID1_DISK_MIB (the disk's size when larger than what fits; the ESP stays the size it needs),
#   SOURCE_DATE_EPOCH (dates inside the FAT).
set -euo pipefail

echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net))"
work=/iso/disk
rm -rf "$work" && mkdir -p "$work" /iso/out
initramfs=$(basename /iso/in/initramfs.cpio*)

echo "gopid1: UEFI image (x86_64-efi): $GOPID1_EFI_MODULES"
# shellcheck disable=SC2086
grub-mkimage -O x86_64-efi -c /iso/in/early.cfg -p /boot/grub -o "$work/BOOTX64.EFI" $GOPID1_EFI_MODULES
echo "gopid1: BIOS core image (i386-pc): $GOPID1_BIOS_MODULES"
# shellcheck disable=SC2086
grub-mkimage -O i386-pc -c /iso/in/early.cfg -p /boot/grub -o /iso/out/core.img $GOPID1_BIOS_MODULES
cp /usr/lib/grub/i386-pc/boot.img /iso/out/boot.img
core_sectors=$(( ( $(stat -c %s /iso/out/core.img) + 511 ) / 512 ))
if [ "$core_sectors" -gt 2048 ]; then echo "gopid1: the core image ($core_sectors sectors) does not fit the 1 MiB BIOS boot partition" >&2; exit 1; fi

# The ESP: everything GRUB and Linux read, plus 10% and 256 KiB for FAT's own tables, in whole MiB.
payload=0
for f in "$work/BOOTX64.EFI" /iso/in/bzImage "/iso/in/$initramfs" /iso/in/grub.cfg; do payload=$(( payload + $(stat -c %s "$f") )); done
esp_mib=$(( ( payload + payload / 10 + 262144 + 1048575 ) / 1048576 ))
# 1 MiB for the protective MBR, the GPT and alignment, 1 MiB BIOS boot partition, the ESP, 1 MiB for the backup GPT.
min_mib=$(( esp_mib + 3 ))
disk_mib=$min_mib
if [ "${GOPID1_DISK_MIB:-0}" -gt "$disk_mib" ]; then disk_mib=$GOPID1_DISK_MIB; fi
echo "$min_mib $disk_mib" > /iso/out/layout
echo "gopid1: ESP $esp_mib MiB ($payload bytes of files), disk $disk_mib MiB (at least $min_mib)"

# Dates inside the FAT come from SOURCE_DATE_EPOCH (mkfs.fat and mtools honour it), file dates from touch.
touch -d "@${SOURCE_DATE_EPOCH:-0}" "$work/BOOTX64.EFI"
mkfs.fat -C --invariant -i "$GOPID1_FAT_ID" -n GOPID1ESP "$work/esp.img" $(( esp_mib * 1024 )) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT ::/boot ::/boot/grub
mcopy -m -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
for f in /iso/in/bzImage "/iso/in/$initramfs" /iso/in/grub.cfg; do touch -d "@${SOURCE_DATE_EPOCH:-0}" "$f" 2>/dev/null || true; done
mcopy -m -i "$work/esp.img" /iso/in/bzImage "::/boot/bzImage"
mcopy -m -i "$work/esp.img" "/iso/in/$initramfs" "::/boot/$initramfs"
mcopy -m -i "$work/esp.img" /iso/in/grub.cfg ::/boot/grub/grub.cfg
: > "$work/$GOPID1_MARKER" && touch -d "@${SOURCE_DATE_EPOCH:-0}" "$work/$GOPID1_MARKER"
mcopy -m -i "$work/esp.img" "$work/$GOPID1_MARKER" "::/boot/grub/$GOPID1_MARKER"

echo "gopid1: partitioning with sgdisk"
truncate -s "${disk_mib}M" "$work/disk.raw"
sgdisk --clear -U "$GOPID1_DISK_GUID" \
  -n 1:2048:4095 -t 1:EF02 -u "1:$GOPID1_BIOS_GUID" -c 1:bios \
  -n "2:4096:+${esp_mib}M" -t 2:EF00 -u "2:$GOPID1_ESP_GUID" -c 2:ESP \
  "$work/disk.raw" >/dev/null
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek=2 conv=notrunc,sparse status=none
verdict=$(sgdisk -v "$work/disk.raw" 2>&1 || true)
case "$verdict" in *"No problems found"*) ;; *) echo "$verdict" >&2; exit 1 ;; esac
dd if="$work/disk.raw" of=/iso/out/disk.head bs=1M count=$(( min_mib - 1 )) status=none
dd if="$work/disk.raw" of=/iso/out/disk.tail bs=1M skip=$(( disk_mib - 1 )) status=none
echo "gopid1: disk $(stat -c %s "$work/disk.raw") bytes, GPT verified by sgdisk -v"
