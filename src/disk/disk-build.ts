import { mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../artifacts/files.js';
import { stageBuilder } from '../builders.js';
import { type BuilderImage, packFiles, type StepInput } from '../engine/engine.js';
import { Gopid1Error } from '../errors.js';
import { grubBootInput } from '../iso/grub.js';
import { ARCH_FACTS, DEFAULT_SERIES, type Arch } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';

/** Modules in the BIOS core image, which reads the ESP of a GPT disk through the BIOS. */
export const DISK_BIOS_MODULES = ['biosdisk', 'part_gpt', 'fat', 'search', 'search_fs_file', 'configfile', 'normal', 'linux', 'serial', 'terminal'];
/** Modules in BOOTX64.EFI on the ESP; efi_gop gives a kernel with an EFI framebuffer a screen on real hardware. */
export const DISK_EFI_MODULES = ['part_gpt', 'fat', 'search', 'search_fs_file', 'configfile', 'normal', 'linux', 'serial', 'terminal', 'efi_gop'];

/** The BIOS boot partition starts here (LBA 2048, 1 MiB), where the core image goes. */
const CORE_LBA = 2048;
const MIB = 1024 * 1024;

/**
 * Writes a disk of `bytes` as a sparse file: `head` from its start, `tail` (the backup GPT) at its end, and a hole
 * between them, so a disk of any size costs what its data does.
 */
export async function assembleDisk(file: string, head: Buffer, tail: Buffer, bytes: number): Promise<void> {
  if (head.length + tail.length > bytes) throw new RangeError(`${head.length + tail.length} bytes of head and tail do not fit a disk of ${bytes} bytes`);
  const handle = await open(file, 'w');
  try {
    await handle.truncate(bytes);
    await handle.write(head, 0, head.length, 0);
    await handle.write(tail, 0, tail.length, bytes - tail.length);
  } finally {
    await handle.close();
  }
}

/** The disk step's layout file: "<smallest MiB> <disk MiB>". */
export function parseLayout(text: string): { minimumMiB: number; diskMiB: number } {
  const match = /^(\d+) (\d+)\s*$/.exec(text);
  if (!match) throw new RangeError(`unexpected disk layout "${text.trim()}"`);
  return { minimumMiB: Number(match[1]), diskMiB: Number(match[2]) };
}

function tooSmall(sizeMiB: number, minimumMiB: number): Gopid1Error {
  return new Gopid1Error('BAD_INPUT', `diskSizeBytes of ${sizeMiB} MiB is smaller than the ${minimumMiB} MiB this disk needs`, {
    hint: `Ask for ${minimumMiB} MiB or more (e.g. --disk-size ${minimumMiB}m), or leave the size out for the smallest disk.`,
    field: 'diskSizeBytes',
  });
}

export interface DiskBuildOptions {
  /** Machine name: the GRUB entry carries it; the disk's GUIDs are derived from it and the contents. */
  name: string;
  /** amd64 disks boot under BIOS and UEFI; arm64 disks under UEFI alone (EFI/BOOT/BOOTAA64.EFI). */
  arch: Arch;
  /** File name in the out dir's staging directory. */
  file: string;
  bzImage: string;
  initramfs: string;
  /** Boot from this Unified Kernel Image (EFI/BOOT/BOOTX64.EFI, UEFI only) instead of GRUB (BIOS and UEFI). */
  uki?: string;
  cmdline: string;
  menuTimeoutSeconds: number;
  /** Dates inside the FAT. */
  sourceDateEpoch: number;
  /** The disk's size; absent, the smallest that fits. */
  sizeMiB?: number;
}

export interface DiskBuildResult {
  file: string;
  bytes: number;
  /** The GPT disk GUID. */
  diskGuid: string;
  /** The smallest disk that holds these files. */
  minimumBytes: number;
  /** Bytes from the start that may hold data; after them only zeros up to the backup GPT in the last MiB. */
  headBytes: number;
  builder: BuilderImage;
  durationMs: number;
}

/** A GUID (RFC 4122 layout, version 4 bits set) derived from a seed: the same seed, the same GUID. */
export function derivedGuid(seed: string): string {
  const hex = sha256(seed).slice(0, 32).split('');
  hex[12] = '4';
  hex[16] = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/**
 * The BIOS boot code of a GPT disk without grub-install (which wants a block device): GRUB's core image in the BIOS
 * boot partition, its first blocklist pointing at the sector after its first, and boot.img's first 440 bytes over
 * the MBR (the partition table after them stays) with the core's LBA at 0x5c.
 */
export async function writeBiosBootCode(disk: string, core: Buffer, bootImg: Buffer): Promise<void> {
  if (core.length > 1024 * 1024) throw new RangeError(`GRUB's core image (${core.length} bytes) does not fit the 1 MiB BIOS boot partition`);
  if (bootImg.length !== 512) throw new RangeError(`boot.img is ${bootImg.length} bytes, not 512`);
  const patchedCore = Buffer.from(core);
  patchedCore.writeBigUInt64LE(BigInt(CORE_LBA + 1), 500);
  const mbr = Buffer.from(bootImg.subarray(0, 440));
  mbr.writeBigUInt64LE(BigInt(CORE_LBA), 0x5c);
  const handle = await open(disk, 'r+');
  try {
    await handle.write(mbr, 0, mbr.length, 0);
    await handle.write(patchedCore, 0, patchedCore.length, CORE_LBA * 512);
  } finally {
    await handle.close();
  }
}

/** What the disk step reads in /iso/in: GRUB's files, or the UKI alone. */
async function diskInput(options: DiskBuildOptions, kernel: Buffer, initramfs: Buffer, marker: string): Promise<StepInput> {
  if (options.uki !== undefined) {
    const uki = await readFile(options.uki);
    return { path: '/iso', archive: () => packFiles([{ name: 'in/uki.efi', data: uki }]) };
  }
  const facts = ARCH_FACTS[options.arch];
  return grubBootInput({ kernel, initramfs, initramfsFile: path.basename(options.initramfs) }, { ...options, kernelFile: facts.kernelImage, serial: facts.bios }, marker);
}

/** Writes GRUB's BIOS boot code from the disk step's outputs, as a STEP_FAILED error when they are not what GRUB makes. */
async function writeGrubBootCode(disk: string, parts: string): Promise<void> {
  try {
    await writeBiosBootCode(disk, await readFile(path.join(parts, 'core.img')), await readFile(path.join(parts, 'boot.img')));
  } catch (error) {
    throw new Gopid1Error('STEP_FAILED', `cannot write the disk's BIOS boot code: ${error instanceof Error ? error.message : String(error)}`, {
      step: 'disk: BIOS boot code',
      hint: 'The disk builder produced an unexpected GRUB image; rebuild the builder images (`gopid1 clean --images`) and try again.',
      cause: error,
    });
  }
}

/** How a disk boots, as the build table says: "BIOS + UEFI", "UEFI, GRUB arm64", "UEFI, from the UKI". */
function bootText(boot: 'grub' | 'uki', arch: Arch): string {
  if (boot === 'uki') return 'UEFI from the UKI';
  return ARCH_FACTS[arch].bios ? 'BIOS + UEFI' : `UEFI, GRUB ${ARCH_FACTS[arch].efiArch}-efi`;
}

/**
 * Makes a GPT disk in the ISO builder. With GRUB on amd64, it boots under BIOS and UEFI: a 1 MiB BIOS boot partition
 * for GRUB's core image, and an ESP (FAT) holding EFI/BOOT/BOOTX64.EFI, the kernel, the initramfs and grub.cfg; on
 * arm64 under UEFI alone, the ESP holding EFI/BOOT/BOOTAA64.EFI. With a UKI, under UEFI: the ESP holds the UKI and
 * nothing else. Smallest size that fits, in whole MiB; fixed GUIDs and FAT id derived from the contents, FAT dates
 * from SOURCE_DATE_EPOCH.
 */
export async function buildDisk(context: StageContext, options: DiskBuildOptions): Promise<DiskBuildResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'iso', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const [kernel, initramfs] = await Promise.all([readFile(options.bzImage), readFile(options.initramfs)]);
  const boot = options.uki !== undefined ? 'uki' : 'grub';
  const seed = `${sha256(kernel)}${sha256(initramfs)}${options.name}${options.cmdline}${boot === 'uki' ? ' uki' : ''}`;
  const marker = `gopid1-${sha256(`disk${seed}`).slice(0, 16)}.id`;
  const diskGuid = derivedGuid(`disk ${seed}`);
  const scratch = await mkdtemp(path.join(out.staging, 'disk-'));
  try {
    report({ kind: 'step', stage: 'disk', text: `making the GPT disk (${bootText(boot, options.arch)})` });
    await engine.runStep({
      role: 'disk-make',
      title: 'disk: make',
      image: builder.id,
      cmd: ['disk-step'],
      env: {
        GOPID1_BOOT: boot,
        GOPID1_EFI_ARCH: ARCH_FACTS[options.arch].efiArch,
        GOPID1_KERNEL_FILE: ARCH_FACTS[options.arch].kernelImage,
        GOPID1_MARKER: marker,
        GOPID1_BIOS_MODULES: DISK_BIOS_MODULES.join(' '),
        GOPID1_EFI_MODULES: DISK_EFI_MODULES.join(' '),
        GOPID1_DISK_GUID: diskGuid,
        GOPID1_BIOS_GUID: derivedGuid(`bios ${seed}`),
        GOPID1_ESP_GUID: derivedGuid(`esp ${seed}`),
        GOPID1_FAT_ID: sha256(`fat ${seed}`).slice(0, 8),
        SOURCE_DATE_EPOCH: String(options.sourceDateEpoch),
        ...(options.sizeMiB !== undefined ? { GOPID1_DISK_MIB: String(options.sizeMiB) } : {}),
      },
      limits: context.limits,
      writable: ['/iso'],
      inputs: [await diskInput(options, kernel, initramfs, marker)],
      outputs: [{ path: '/iso/out', dest: scratch }],
      logFile: path.join(out.logs, 'disk.log'),
      onLine: (line) => report({ kind: 'line', stage: 'disk', line }),
      ...(signal ? { signal } : {}),
    });
    const made = path.join(scratch, 'disk.raw');
    const parts = path.join(scratch, 'out');
    const layout = parseLayout(await readFile(path.join(parts, 'layout'), 'utf8'));
    if (options.sizeMiB !== undefined && options.sizeMiB < layout.minimumMiB) throw tooSmall(options.sizeMiB, layout.minimumMiB);
    const head = await readFile(path.join(parts, 'disk.head'));
    await assembleDisk(made, head, await readFile(path.join(parts, 'disk.tail')), layout.diskMiB * MIB);
    if (boot === 'grub' && ARCH_FACTS[options.arch].bios) await writeGrubBootCode(made, parts);
    await rename(made, out.staged(options.file));
    const bytes = (await stat(out.staged(options.file))).size;
    report({ kind: 'done', stage: 'disk', text: `${options.file} made (${bytes} bytes, GPT, ${bootText(boot, options.arch)})` });
    return { file: options.file, bytes, diskGuid, minimumBytes: layout.minimumMiB * MIB, headBytes: head.length, builder, durationMs: Date.now() - started };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
