import type { Manifest } from '../artifacts/manifest.js';
import { Gopid1Error } from '../errors.js';
import type { BuildPlan } from '../plan/plan.js';
import type { CloudName } from '../plan/vocabulary.js';
import type { DiskBus, MachineChoice } from '../qemu/command.js';
import type { StageContext } from '../stage.js';
import { produceAwsDisk, produceConverted, produceRawDisk } from './disk.js';
import { produceIso } from './iso.js';
import { awsFileName, isoFileName, machineFileName, rawFileName } from './names.js';
import type { MachineFiles, OutputProduct } from './product.js';

export { awsFileName, isoFileName, rawFileName };

/**
 * The output formats: what `--format` selects beyond the kernel and initramfs, which are always written. One entry
 * per format — its name, what it needs from the kernel, which builder makes it, its files, how `boot` starts it,
 * and its producer — so that adding a format is one entry and its producer (the shape of LinuxKit's output table).
 */
export type OutputName = 'iso' | 'iso-uefi' | 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'gcp' | 'aws';

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
  media: 'cdrom' | 'disk';
  firmware: 'bios' | 'uefi';
  /** How the disk is attached, as the target does (default ide). */
  bus?: DiskBus;
  machine?: MachineChoice;
}

export interface OutputFormat {
  name: OutputName;
  summary: string;
  needs: KernelNeeds;
  /** The builder image that makes it. */
  builder: 'iso';
  /** The file it writes to the out dir, for a machine of this name. */
  file: (name: string) => string;
  /** Made from the raw GPT disk (sized by --disk-size). */
  disk: boolean;
  /** Absent for a format that is only imported elsewhere (the gcp tarball). */
  boot?: BootMethod;
  /** Formats this one makes redundant: asking for both gives this one. */
  includes: OutputName[];
  produce: (context: StageContext, plan: BuildPlan, machine: MachineFiles) => Promise<OutputProduct>;
}

/** What a GRUB disk or ISO needs from the kernel when its target asks for nothing more. */
const GRUB_EFI: KernelNeeds = { efi: true, grub: true, net: false, clouds: [] };

/** A format made by converting the raw disk: GPT, BIOS + UEFI, booted from disk. */
function converted(name: 'qcow2' | 'vmdk' | 'vhd' | 'gcp', extension: string, summary: string): OutputFormat {
  return {
    name,
    summary,
    // Compute Engine gives its address by DHCP and presents virtio-scsi or NVMe disks and virtio-net or gVNIC.
    needs: name === 'gcp' ? { ...GRUB_EFI, net: true, clouds: ['gcp'] } : GRUB_EFI,
    builder: 'iso',
    file: (machine) => machineFileName(machine, extension),
    disk: true,
    ...(name === 'gcp' ? {} : { boot: { media: 'disk', firmware: 'bios' } as const }),
    includes: [],
    produce: (context, plan, machine) => produceConverted(context, plan, machine, name, machineFileName(plan.name, extension)),
  };
}

export const OUTPUT_FORMATS: readonly OutputFormat[] = [
  {
    name: 'iso',
    summary: 'GRUB ISO that boots under BIOS, from a CD or as a USB stick (El Torito + hybrid MBR)',
    needs: { ...GRUB_EFI, efi: false },
    builder: 'iso',
    file: isoFileName,
    disk: false,
    boot: { media: 'cdrom', firmware: 'bios' },
    includes: [],
    produce: (context, plan, machine) => produceIso(context, plan, machine, { uefi: false }),
  },
  {
    name: 'iso-uefi',
    summary: 'the same ISO, also bootable under UEFI (EFI/BOOT/BOOTX64.EFI in an El Torito EFI image); the kernel gets the EFI stub',
    needs: GRUB_EFI,
    builder: 'iso',
    file: isoFileName,
    disk: false,
    boot: { media: 'cdrom', firmware: 'uefi' },
    includes: ['iso'],
    produce: (context, plan, machine) => produceIso(context, plan, machine, { uefi: true }),
  },
  {
    name: 'raw',
    summary: 'GPT disk that boots under BIOS (GRUB core in a BIOS boot partition) and UEFI (ESP with EFI/BOOT/BOOTX64.EFI); smallest size that fits, in whole MiB',
    needs: GRUB_EFI,
    builder: 'iso',
    file: rawFileName,
    disk: true,
    boot: { media: 'disk', firmware: 'bios' },
    includes: [],
    produce: produceRawDisk,
  },
  converted('qcow2', '.qcow2', 'the raw disk as qcow2 (QEMU, libvirt, GNOME Boxes, OpenStack)'),
  converted('vmdk', '.vmdk', 'the raw disk as a streamOptimized VMDK, as VMware and VirtualBox import it'),
  converted('vhd', '.vhd', 'the raw disk as a fixed VHD, its size a whole number of MiB, as Azure requires'),
  converted('gcp', '.gcp.tar.gz', 'disk.raw alone in a GNU tar (oldgnu, sparse), gzip: Compute Engine\'s image import format; the kernel gets the gcp drivers and ip=dhcp'),
  {
    name: 'aws',
    summary: 'the raw disk set up for EC2 (<name>.aws.raw): BIOS + UEFI, NVMe and ENA drivers, console on ttyS0, ip=dhcp; what `gopid1 push aws` uploads',
    needs: { ...GRUB_EFI, net: true, clouds: ['aws'] },
    builder: 'iso',
    file: awsFileName,
    disk: true,
    // As a Nitro instance presents it: UEFI firmware, the root volume on NVMe.
    boot: { media: 'disk', firmware: 'uefi', bus: 'nvme', machine: 'q35' },
    includes: [],
    produce: produceAwsDisk,
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

/** What the chosen formats need from the kernel, together. */
export function kernelNeedsOf(formats: readonly OutputName[]): KernelNeeds {
  const needs = formats.map((name) => outputFormat(name).needs);
  return {
    efi: needs.some((need) => need.efi),
    grub: needs.some((need) => need.grub),
    net: needs.some((need) => need.net),
    clouds: [...new Set(needs.flatMap((need) => need.clouds))],
  };
}
