/** The words every stage shares: architectures, kernel bases and compressions, init modes, the Debian series, defaults. */

/** The machine's architecture, in Go's words (GOARCH). */
export type Arch = 'amd64' | 'arm64';
export const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/**
 * Per architecture: Linux's name for it, the kernel image `make` writes, the serial console the command line names
 * (none on arm64: there the firmware names it), GRUB's name for its EFI platform (x86_64-efi, arm64-efi), the file
 * UEFI firmware starts from removable media (EFI/BOOT/…), and whether its machines have a BIOS (disks get GRUB's BIOS
 * boot code).
 */
export const ARCH_FACTS: {
  readonly [arch in Arch]: { readonly kernelArch: string; readonly kernelImage: string; readonly console?: string; readonly efiArch: 'x86_64' | 'arm64'; readonly efiBootFile: string; readonly bios: boolean };
} = {
  amd64: { kernelArch: 'x86', kernelImage: 'bzImage', console: 'ttyS0', efiArch: 'x86_64', efiBootFile: 'BOOTX64.EFI', bios: true },
  // arm64's Image is not compressed: the kernel does not unpack itself there, and QEMU and UEFI load it as it is. Its
  // console is the UART the device tree's stdout-path names (QEMU's virt: the PL011, ttyAMA0) or ACPI's SPCR table
  // (virt under UEFI: the same PL011; EC2 Graviton: a 16550, ttyS0), so one command line fits every arm64 machine.
  arm64: { kernelArch: 'arm64', kernelImage: 'Image', efiArch: 'arm64', efiBootFile: 'BOOTAA64.EFI', bios: false },
};

/** The firmware a machine's image boots under. */
export type Firmware = 'bios' | 'uefi';

/** Firmware as the build table and progress lines say it: "BIOS", "BIOS + UEFI", "UEFI". */
export function firmwareLabel(firmware: readonly Firmware[]): string {
  return firmware.map((name) => name.toUpperCase()).join(' + ');
}

/**
 * What the minimal kernel holds: `default` gives a program what a FROM-scratch container has (TCP/IP and UNIX sockets
 * on loopback, `#!` scripts); `small` leaves those out (small.config) for a smaller machine that only computes and
 * prints. Their cost is measured in docs/PERFORMANCE.md.
 */
export type Profile = 'default' | 'small';
export const PROFILES: readonly Profile[] = ['default', 'small'];

export type KernelConfigBase = 'minimal' | 'defconfig';
export const KERNEL_CONFIG_BASES: readonly KernelConfigBase[] = ['minimal', 'defconfig'];

/** How bzImage is compressed: the kernel's size against the time to unpack it at every boot. */
export type KernelCompression = 'zstd' | 'xz' | 'gzip';
export const KERNEL_COMPRESSIONS: readonly KernelCompression[] = ['zstd', 'xz', 'gzip'];

/**
 * How the initramfs is compressed. zstd (default) is about 12% smaller than gzip and about as quick to unpack
 * under QEMU's software emulation; xz is the smallest and the slowest to unpack. Measured in docs/PERFORMANCE.md.
 */
export type InitramfsCompression = 'zstd' | 'xz' | 'gzip';
export const INITRAMFS_COMPRESSIONS: readonly InitramfsCompression[] = ['zstd', 'xz', 'gzip'];
export const DEFAULT_INITRAMFS_COMPRESSION: InitramfsCompression = 'zstd';

/**
 * Who is PID 1: `direct` makes the program /init; `supervise` puts gopid1's supervising init there (mounts,
 * reaping, signal forwarding, clean power-off) and the program at /app.
 */
export type InitMode = 'direct' | 'supervise';
export const INIT_MODES: readonly InitMode[] = ['direct', 'supervise'];

/**
 * The cloud whose devices the kernel drives (`--cloud`): aws (NVMe, ENA), gcp (virtio-scsi, NVMe, virtio-net,
 * gVNIC), azure (Hyper-V VMBus, storvsc, netvsc); each is a shipped fragment, cloud-<name>.config.
 */
export type CloudName = 'aws' | 'gcp' | 'azure';
export type Cloud = CloudName | 'none';
export const CLOUDS: readonly Cloud[] = ['aws', 'gcp', 'azure', 'none'];

/**
 * What the supervising init does when the program ends: `no` powers off (the default), `on-failure` starts it again
 * unless it exited 0, `always` starts it again whatever the status. Exit status 125 always means stop.
 */
export type RestartPolicy = 'no' | 'on-failure' | 'always';
export const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'on-failure', 'always'];

/**
 * How the disk formats boot: `grub` (GRUB under BIOS and UEFI) or `uki` (a Unified Kernel Image as the ESP's
 * EFI/BOOT/BOOTX64.EFI, started by UEFI firmware alone: no boot loader, no BIOS path).
 */
export type DiskBoot = 'grub' | 'uki';
export const DISK_BOOTS: readonly DiskBoot[] = ['grub', 'uki'];

/** The Debian release whose toolchain builds everything that does not name one. */
export const DEFAULT_SERIES = 'trixie';
export const DEFAULT_KERNEL_SOURCE = `debian:${DEFAULT_SERIES}`;

/** Where `build` writes and `boot`, `compare` and `push` read, unless told otherwise. */
export const DEFAULT_OUT_DIR = 'dist';

/** Used when neither the option, SOURCE_DATE_EPOCH nor a git commit of the app gives a time: 2024-01-01T00:00:00Z. */
export const DEFAULT_SOURCE_DATE_EPOCH = 1704067200;
/** cpio and ISO 9660 store 32-bit times. */
export const MAX_SOURCE_DATE_EPOCH = 0xffffffff;

/** The kernel command line every gopid1 boot uses; `extra` is appended (later parameters win). */
export function kernelCmdline(extra?: string, arch: Arch = 'amd64'): string {
  const console = ARCH_FACTS[arch].console;
  return [...(console ? [`console=${console}`] : []), 'panic=-1', 'printk.time=1', 'quiet', ...(extra?.trim() ? [extra.trim()] : [])].join(' ');
}
