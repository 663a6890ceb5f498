import { copyFile, mkdir, mkdtemp, open, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BOOT_DIR_PREFIX } from '../artifacts/leftovers.js';
import { Gopid1Error, interrupted } from '../errors.js';
import { ARCH_FACTS, type Arch } from '../plan/vocabulary.js';
import { findQboot, findQemu, findUefiFirmware } from './host-tools.js';
import { defaultMemoryMiB, qemuArgs, resolveAccel, resolveMachine, type AccelChoice, type BootMedia, type Forward, type MachineChoice, type MachineType } from './command.js';
import { metadataService, type MetadataCloud } from './metadata.js';
import { fwCfgItems, type RuntimeConfig } from './run-config.js';

export interface BootMachineOptions {
  /** A kernel + initramfs (direct boot), or an ISO as CD-ROM or disk. */
  media: BootMedia;
  /** The build's architecture (its manifest's plan); a kernel booted directly says its own, which must agree. */
  arch?: Arch;
  /** Boot through OVMF (UEFI) instead of SeaBIOS; ISO media only. */
  uefi?: boolean;
  /** The machine feeds a watchdog (gopid1 build --watchdog): attach QEMU's i6300esb and report when it fires. */
  watchdog?: boolean;
  /** Environment and secrets for the supervising init, through fw_cfg. */
  config?: RuntimeConfig;
  /** Emulate this cloud's metadata service, serving `config` as the instance's user-data instead of fw_cfg. */
  metadata?: MetadataCloud;
  /** A raw disk image the machine mounts on /data (virtio-blk, written to). */
  dataDisk?: string;
  /** What starts the kernel of a disk: GRUB (default), or the UKI on its ESP (--boot uki). */
  bootloader?: 'grub' | 'uki';
  /** Bytes the initramfs unpacks to, for the default memory size; estimated when unknown. */
  unpackedBytes?: number;
  /** Stop with success once this regular expression has matched `expectCount` console lines. */
  expect?: RegExp;
  expectCount?: number;
  /** Try `expect` on every console line, not only the program's. */
  expectAnywhere?: boolean;
  /** Give up after this many seconds (no limit when undefined). */
  timeoutSeconds?: number;
  memoryMiB?: number;
  accel?: AccelChoice;
  /** QEMU machine type; `auto` (default) is pc. */
  machine?: MachineChoice;
  /**
   * /init is gopid1's supervising init: its "gopid1: app exited …" line ends the run, and stopping the machine
   * (timeout, abort) presses the ACPI power button and waits for a clean power-off before killing QEMU.
   */
  supervised?: boolean;
  /** Attach a virtio NIC on QEMU's user networking, with these host → guest port forwards. */
  net?: { forwards: Forward[] };
  /** Stop this long after the program's first output (outcome `first-output`): for measurements. */
  firstOutputWindowMs?: number;
  /** The console is written here, one line per line. */
  serialLog: string;
  onConsole?: (line: string) => void;
  signal?: AbortSignal;
}

async function mustExist(file: string, what: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a file');
    return info.size;
  } catch {
    throw new Gopid1Error('BAD_INPUT', `${what} ${file} does not exist`, {
      hint: what === 'ISO' ? 'Build one with `gopid1 build <app> --iso` (add --uefi for UEFI), then boot <out>/<name>.iso.' : what === 'disk' ? 'Build one with `gopid1 build <app> --format raw`, then boot <out>/<name>.raw.' : what === 'EFI application' ? 'Build one with `gopid1 build <app> --format uki`, then boot <out>/<name>.efi.' : 'Run `gopid1 build <app> --out <dir>` first, then boot that directory.',
    });
  }
}

/** The bytes at `offset` of a file (fewer at its end). */
async function bytesAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Refuses a file that is not what it is booted as, before QEMU says something obscure about it: a kernel must
 * carry the x86 boot protocol's "HdrS" header, an ISO the ISO 9660 "CD001" volume descriptor.
 */
const SIGNATURES = {
  ISO: [0x8001, 'CD001', 'an ISO 9660 image (no "CD001" volume descriptor at 0x8001)', 'Pass the .iso of `gopid1 build --iso` with --iso.'],
  disk: [0x1fe, '\x55\xaa', 'a bootable disk image (no boot signature 55 AA at 0x1fe)', 'Pass the .raw disk of `gopid1 build --format raw` with --disk.'],
  qcow2: [0, 'QFI\xfb', 'a qcow2 image (no "QFI" magic at 0)', 'Pass the .qcow2 of `gopid1 build --format qcow2` with --disk.'],
  vmdk: [0, 'KDMV', 'a VMDK (no "KDMV" magic at 0)', 'Pass the .vmdk of `gopid1 build --format vmdk` with --disk.'],
  efi: [0, 'MZ', 'an EFI application (no "MZ" PE header at 0)', 'Pass the .efi of `gopid1 build --format uki` with --efi.'],
} as const;

/** What prints before the kernel: nothing for a direct boot, the firmware alone for a UKI, GRUB for ISOs and disks unless told. */
export function bootloaderOf(media: BootMedia, disk: 'grub' | 'uki' | undefined): { bootloader?: 'grub' | 'uki' } {
  if (media.kind === 'direct') return {};
  if (media.kind === 'efi') return { bootloader: 'uki' };
  return { bootloader: media.kind === 'disk' ? (disk ?? 'grub') : 'grub' };
}

/**
 * A directory in `dir` that holds `file` as EFI/BOOT/BOOTX64.EFI (BOOTAA64.EFI on arm64): a FAT drive's contents for
 * UEFI's removable-media path.
 */
async function espHolding(file: string, dir: string, arch: Arch): Promise<string> {
  const esp = path.join(dir, 'esp');
  await mkdir(path.join(esp, 'EFI', 'BOOT'), { recursive: true });
  await copyFile(file, path.join(esp, 'EFI', 'BOOT', ARCH_FACTS[arch].efiBootFile));
  return esp;
}

/** The architecture of a kernel image: x86's boot protocol header, or arm64's Image header magic; undefined for neither. */
export async function kernelArchOf(file: string): Promise<Arch | undefined> {
  if ((await bytesAt(file, 0x202, 4)).toString('latin1') === 'HdrS') return 'amd64';
  if ((await bytesAt(file, 0x38, 4)).toString('latin1') === 'ARM\x64') return 'arm64';
  return undefined;
}

/** The architecture a direct boot runs: the kernel's own, which must be the build's when the build says. */
async function directArch(kernel: string, built: Arch | undefined): Promise<Arch> {
  const found = await kernelArchOf(kernel);
  if (!found) {
    throw new Gopid1Error('BAD_INPUT', `${kernel} is not a Linux kernel image (neither an x86 bzImage, "HdrS" at 0x202, nor an arm64 Image, "ARM\\x64" at 0x38)`, {
      hint: 'Pass the bzImage or Image of `gopid1 build` (or of any x86 or arm64 kernel build) with --kernel.',
    });
  }
  if (built && found !== built) {
    throw new Gopid1Error('BAD_INPUT', `${kernel} is an ${found} kernel, and the build beside it is ${built}: its init would not run on it`, {
      hint: `Boot the kernel the build made, or pass an ${built} kernel with --kernel (and an initramfs of the same architecture with --initrd).`,
    });
  }
  return found;
}

async function mustBe(file: string, what: keyof typeof SIGNATURES): Promise<void> {
  const [offset, magic, description, hint] = SIGNATURES[what];
  if ((await bytesAt(file, offset, magic.length)).toString('latin1') !== magic) {
    throw new Gopid1Error('BAD_INPUT', `${file} is not ${description}`, { hint });
  }
}

/**
 * Checks that what is to be booted exists and is what it is booted as, before QEMU says something obscure about it;
 * returns its size (a direct boot's: the initramfs).
 */
export async function checkMedia(media: BootMedia, uefi: boolean): Promise<number> {
  let imageBytes: number;
  if (media.kind === 'direct') {
    imageBytes = await mustExist(media.initrd, 'initramfs');
    await mustExist(media.kernel, 'kernel');
  } else if (media.kind === 'iso') {
    imageBytes = await mustExist(media.iso, 'ISO');
    await mustBe(media.iso, 'ISO');
  } else if (media.kind === 'efi') {
    imageBytes = await mustExist(media.file, 'EFI application');
    await mustBe(media.file, 'efi');
  } else {
    imageBytes = await mustExist(media.file, 'disk');
    await mustBe(media.file, media.format === 'raw' || media.format === 'vpc' ? 'disk' : media.format);
  }
  if (uefi && media.kind === 'direct') {
    throw new Gopid1Error('BAD_INPUT', '--uefi boots an ISO or a disk through UEFI firmware; a direct kernel boot has no firmware step', { hint: 'Build with --uefi and boot with --iso <dir>/<name>.iso --uefi.' });
  }
  return imageBytes;
}

/** What an arm64 machine (QEMU's virt) can attach: no IDE controller, so disks go on virtio, NVMe or SCSI. */
function checkArm64Media(arch: Arch, media: BootMedia): void {
  if (arch === 'arm64' && media.kind === 'disk' && media.bus === 'ide') {
    throw new Gopid1Error('BAD_INPUT', 'an arm64 machine (QEMU\'s virt) has no IDE controller', { hint: 'Use --disk-bus virtio (the default for arm64), nvme or scsi.' });
  }
}

/** What a boot runs: QEMU, its arguments, and what they were chosen from. */
export interface PreparedRun {
  qemu: string;
  args: string[];
  machine: MachineType;
  firmware: string | undefined;
  uefiFirmware: string | undefined;
  accel: 'kvm' | 'tcg';
  reason: string;
  memoryMiB: number;
  supervised: boolean;
  /** The run's own files (QMP socket, an EFI application's drive, fw_cfg items), removed after the boot. */
  runDir: string | undefined;
  qmpSocket: string | undefined;
  cmdline: string | undefined;
}

/** Checks the media and chooses machine, firmware, accelerator and memory; writes the run's files; builds the command. */
export async function prepareRun(options: BootMachineOptions): Promise<PreparedRun> {
  const { media } = options;
  const imageBytes = await checkMedia(media, options.uefi === true);
  const arch = media.kind === 'direct' ? await directArch(media.kernel, options.arch) : (options.arch ?? 'amd64');
  checkArm64Media(arch, media);
  const machine = resolveMachine(options.machine ?? 'auto', media.kind, arch);
  const qemu = await findQemu(arch);
  // Only UEFI firmware starts an EFI application; an arm64 machine has no other firmware.
  const uefi = options.uefi === true || media.kind === 'efi' || (arch === 'arm64' && media.kind !== 'direct');
  const uefiFirmware = uefi ? await findUefiFirmware(arch) : undefined;
  // A kernel booted directly needs no BIOS services: qboot (microvm brings its own firmware).
  const firmware = uefiFirmware ?? (media.kind === 'direct' && (machine === 'pc' || machine === 'q35') ? await findQboot() : undefined);
  const { accel, reason } = await resolveAccel(options.accel ?? 'auto');
  // OVMF itself wants room beyond what the kernel and initramfs need.
  const memoryMiB = options.memoryMiB ?? Math.max(defaultMemoryMiB(imageBytes, options.unpackedBytes ?? imageBytes * 3), uefiFirmware ? 256 : 0);
  const supervised = options.supervised ?? false;
  if (options.signal?.aborted) throw interrupted('boot');
  const watchdog = options.watchdog === true;
  // The run's own files: the QMP socket (the power button is pressed through it, only the supervising init listens
  // to it; a watchdog's firing comes back through it) and an EFI application's FAT drive. Named with this process's
  // id: `gopid1 clean` removes those of runs that died.
  const runDir = supervised || watchdog || options.config || options.metadata || media.kind === 'efi' ? await mkdtemp(path.join(os.tmpdir(), `${BOOT_DIR_PREFIX}${process.pid}-`)) : undefined;
  const qmpSocket = runDir && (supervised || watchdog) ? path.join(runDir, 'qmp.sock') : undefined;
  const esp = runDir && media.kind === 'efi' ? await espHolding(media.file, runDir, arch) : undefined;
  const metadata = runDir && options.metadata ? await metadataService(options.metadata, options.config, runDir) : undefined;
  const fwCfg = metadata ? metadata.fwCfg : runDir && options.config ? await fwCfgItems(options.config, runDir) : [];
  const net = options.net && metadata ? { ...options.net, netdev: metadata.netdev } : options.net;
  const args = qemuArgs({ media, machine, memoryMiB, accel, watchdog, fwCfg, ...(options.dataDisk !== undefined ? { dataDisk: options.dataDisk } : {}), ...(firmware ? { firmware } : {}), ...(net ? { net } : {}), ...(qmpSocket ? { qmpSocket } : {}), ...(esp ? { esp } : {}) });
  const cmdline = media.kind === 'direct' ? media.cmdline : undefined;
  return { qemu, args, machine, firmware, uefiFirmware, accel, reason, memoryMiB, supervised, runDir, qmpSocket, cmdline };
}
