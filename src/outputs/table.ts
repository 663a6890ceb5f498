import type { Manifest } from '../artifacts/manifest.js';
import { Gopid1Error } from '../errors.js';
import { ARCH_FACTS, firmwareLabel, type Arch, type CloudName, type DiskBoot, type Firmware } from '../plan/vocabulary.js';
import type { DiskBus, MachineChoice } from '../qemu/command.js';
import { awsFileName, isoFileName, machineFileName, rawFileName, ukiFileName } from './names.js';

export { awsFileName, isoFileName, rawFileName, ukiFileName };

/**
 * The output formats: what `--format` selects beyond the kernel and initramfs, which are always written. One entry
 * per format — its name, what it needs from the kernel, which builder makes it, its files, how `boot` starts it,
 * and (in outputs/producers.ts, keyed by name) its producer — so that adding a format is one entry and its producer
 * (the shape of LinuxKit's output table).
 */
export type OutputName = 'iso' | 'iso-uefi' | 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'gcp' | 'aws' | 'uki';

/** What a format needs from the kernel (generated fragments, command-line rules). */
export interface KernelNeeds {
  /** The EFI stub and EFI runtime support (efi.config). */
  efi: boolean;
  /** Booted through GRUB, which re-escapes quotes on the command line. */
  grub: boolean;
  /** Networking configured by the kernel (net.config, ip=dhcp): the target gives the machine its address. */
  net: boolean;
  /** The drivers of these clouds (cloud-<name>.config). */
  clouds: readonly CloudName[];
}

/** How `gopid1 boot --format <name>` presents the file to QEMU. */
export interface BootMethod {
  /** `efi`: an EFI application, started by the firmware from a FAT drive that holds it as EFI/BOOT/BOOTX64.EFI. */
  media: 'cdrom' | 'disk' | 'efi';
  firmware: 'bios' | 'uefi';
  /** How the disk is attached, as the target does (default ide). */
  bus?: DiskBus;
  machine?: MachineChoice;
}

type ArtifactKey = keyof Manifest['artifacts'];

export interface OutputFormat {
  name: OutputName;
  summary: string;
  /** Its record under manifest.artifacts (iso and iso-uefi share one). */
  artifact: ArtifactKey;
  /** What the build table says beside its file name. */
  label: (manifest: Pick<Manifest, 'artifacts'>) => string;
  needs: KernelNeeds;
  /** The builder image that makes it. */
  builder: 'iso';
  /** The file it writes to the out dir, for a machine of this name. */
  file: (name: string) => string;
  /** Made from the raw GPT disk (sized by --disk-size, booted as --boot says). */
  disk: boolean;
  /** Absent for a format that is only imported elsewhere (the gcp tarball). */
  boot?: BootMethod;
  /** Formats this one makes redundant: asking for both gives this one. */
  includes: OutputName[];
}

/** What a GRUB disk or ISO needs from the kernel when its target asks for nothing more. */
const GRUB_EFI: KernelNeeds = { efi: true, grub: true, net: false, clouds: [] };

/** The firmware a record says its image boots under, as the build table shows it. */
function firmwareText(record: { firmware?: readonly Firmware[] } | undefined): string {
  return firmwareLabel(record?.firmware ?? []);
}

/** A format made by converting the raw disk: GPT, BIOS + UEFI, booted from disk. */
function converted(name: 'qcow2' | 'vmdk' | 'vhd' | 'gcp', extension: string, summary: string, label: string): OutputFormat {
  return {
    name,
    summary,
    artifact: name,
    label: () => label,
    // Compute Engine gives its address by DHCP and presents virtio-scsi or NVMe disks and virtio-net or gVNIC.
    needs: name === 'gcp' ? { ...GRUB_EFI, net: true, clouds: ['gcp'] } : GRUB_EFI,
    builder: 'iso',
    file: (machine) => machineFileName(machine, extension),
    disk: true,
    ...(name === 'gcp' ? {} : { boot: { media: 'disk', firmware: 'bios' } as const }),
    includes: [],
  };
}

export const OUTPUT_FORMATS: readonly OutputFormat[] = [
  {
    name: 'iso',
    summary: 'GRUB ISO that boots under BIOS, from a CD or as a USB stick (El Torito + hybrid MBR)',
    artifact: 'iso',
    // Manifests older than the arm64 ISO say only whether it also boots under UEFI.
    label: ({ artifacts }) => `${artifacts.iso?.firmware ? firmwareText(artifacts.iso) : artifacts.iso?.uefi ? 'BIOS + UEFI' : 'BIOS'}, USB-hybrid`,
    needs: { ...GRUB_EFI, efi: false },
    builder: 'iso',
    file: isoFileName,
    disk: false,
    boot: { media: 'cdrom', firmware: 'bios' },
    includes: [],
  },
  {
    name: 'iso-uefi',
    summary: 'the same ISO, also bootable under UEFI (EFI/BOOT/BOOTX64.EFI in an El Torito EFI image); the kernel gets the EFI stub',
    artifact: 'iso',
    label: ({ artifacts }) => `${artifacts.iso?.firmware ? firmwareText(artifacts.iso) : 'BIOS + UEFI'}, USB-hybrid`,
    needs: GRUB_EFI,
    builder: 'iso',
    file: isoFileName,
    disk: false,
    boot: { media: 'cdrom', firmware: 'uefi' },
    includes: ['iso'],
  },
  {
    name: 'raw',
    summary: 'GPT disk that boots under BIOS (GRUB core in a BIOS boot partition) and UEFI (ESP with EFI/BOOT/BOOTX64.EFI); with --boot uki, under UEFI from the UKI alone; smallest size that fits, in whole MiB',
    artifact: 'raw',
    label: ({ artifacts }) => `GPT disk, ${firmwareText(artifacts.raw)}`,
    needs: GRUB_EFI,
    builder: 'iso',
    file: rawFileName,
    disk: true,
    boot: { media: 'disk', firmware: 'bios' },
    includes: [],
  },
  converted('qcow2', '.qcow2', 'the raw disk as qcow2 (QEMU, libvirt, GNOME Boxes, OpenStack)', 'qcow2'),
  converted('vmdk', '.vmdk', 'the raw disk as a streamOptimized VMDK, as VMware and VirtualBox import it', 'VMDK, streamOptimized'),
  converted('vhd', '.vhd', 'the raw disk as a fixed VHD, its size a whole number of MiB, as Azure requires', 'VHD, fixed'),
  converted('gcp', '.gcp.tar.gz', 'disk.raw alone in a GNU tar (oldgnu, sparse), gzip: Compute Engine\'s image import format; the kernel gets the gcp drivers and ip=dhcp', 'Compute Engine tarball'),
  {
    name: 'aws',
    summary: 'the raw disk set up for EC2 (<name>.aws.raw): BIOS + UEFI (UEFI only with --boot uki, and for Graviton with --arch arm64), NVMe and ENA drivers, console on ttyS0, ip=dhcp; what `gopid1 push aws` uploads',
    artifact: 'aws',
    label: ({ artifacts }) => `EC2 disk, ${firmwareText(artifacts.aws)}`,
    needs: { ...GRUB_EFI, net: true, clouds: ['aws'] },
    builder: 'iso',
    file: awsFileName,
    disk: true,
    // As a Nitro instance presents it: UEFI firmware, the root volume on NVMe (on q35; arm64 on virt, with ACPI).
    boot: { media: 'disk', firmware: 'uefi', bus: 'nvme', machine: 'q35' },
    includes: [],
  },
  {
    name: 'uki',
    summary: 'a Unified Kernel Image (<name>.efi): systemd-stub, kernel, initramfs and command line in one PE file that UEFI firmware starts directly, no GRUB',
    artifact: 'uki',
    label: () => 'UKI, UEFI',
    // The command line is inside the image: nothing re-escapes it.
    needs: { ...GRUB_EFI, grub: false },
    builder: 'iso',
    file: ukiFileName,
    disk: false,
    boot: { media: 'efi', firmware: 'uefi' },
    includes: [],
  },
];

export function formatNames(): string[] {
  return OUTPUT_FORMATS.map((format) => format.name);
}

export function outputFormat(name: OutputName): OutputFormat {
  const format = OUTPUT_FORMATS.find((entry) => entry.name === name);
  if (!format) throw new Gopid1Error('BAD_INPUT', `unknown output format "${name}"`, { hint: `Known formats: ${formatNames().join(', ')}.`, field: 'formats' });
  return format;
}

/**
 * The formats a list asks for (items may hold comma-separated names), known, without repeats, in table order; a
 * format another one includes is dropped. Fails at once on an unknown name, listing the known ones.
 */
export function parseFormats(list: readonly string[]): OutputName[] {
  const asked = new Set(list.flatMap((item) => item.split(',')).map((name) => name.trim()).filter(Boolean));
  for (const name of asked) {
    if (!OUTPUT_FORMATS.some((format) => format.name === name)) {
      throw new Gopid1Error('BAD_INPUT', `formats has an unknown output format "${name}"`, { hint: `Known formats: ${formatNames().join(', ')} (kernel + initramfs are always written).`, field: 'formats' });
    }
  }
  const chosen = OUTPUT_FORMATS.filter((format) => asked.has(format.name));
  const included = new Set(chosen.flatMap((format) => format.includes));
  return chosen.filter((format) => !included.has(format.name)).map((format) => format.name);
}

/** The formats a build made: its plan's, or for a manifest older than plans, what its artifacts show. */
export function formatsBuilt(manifest: Pick<Manifest, 'artifacts' | 'plan'>): OutputName[] {
  const planned = manifest.plan?.outputs;
  if (Array.isArray(planned)) return planned.filter((name): name is OutputName => OUTPUT_FORMATS.some((format) => format.name === name));
  if (!manifest.artifacts.iso) return [];
  return [manifest.artifacts.iso.uefi ? 'iso-uefi' : 'iso'];
}

/** The formats give a file of format `name`: it is one of them, or one of them includes it. */
export function provides(formats: readonly OutputName[], name: OutputName): boolean {
  return formats.some((built) => built === name || outputFormat(built).includes.includes(name));
}

/** What a format needs from the kernel when its disk boots as `boot` says: a disk started from a UKI has no GRUB. */
export function needsOf(name: OutputName, boot: DiskBoot = 'grub'): KernelNeeds {
  const format = outputFormat(name);
  return format.disk && boot === 'uki' ? { ...format.needs, grub: false } : format.needs;
}

/**
 * How `boot --format` starts a format's file of a build whose disks boot as `boot` says: a UKI disk only under UEFI;
 * a disk of an architecture without a BIOS (arm64) under UEFI on that architecture's machine, on virtio-blk unless
 * the format names its bus.
 */
export function bootMethodOf(name: OutputName, boot: DiskBoot = 'grub', arch: Arch = 'amd64'): BootMethod | undefined {
  const format = outputFormat(name);
  if (!format.boot || !format.disk) return format.boot;
  if (!ARCH_FACTS[arch].bios) {
    const { machine: _x86Machine, ...method } = format.boot;
    return { ...method, firmware: 'uefi', bus: method.bus ?? 'virtio' };
  }
  return boot === 'grub' ? format.boot : { ...format.boot, firmware: 'uefi' };
}

/** What the chosen formats need from the kernel, together. */
export function kernelNeedsOf(formats: readonly OutputName[], boot: DiskBoot = 'grub'): KernelNeeds {
  const needs = formats.map((name) => needsOf(name, boot));
  return {
    efi: needs.some((need) => need.efi),
    grub: needs.some((need) => need.grub),
    net: needs.some((need) => need.net),
    clouds: [...new Set(needs.flatMap((need) => need.clouds))],
  };
}
