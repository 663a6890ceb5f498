import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../artifacts/files.js';
import type { BuilderImage } from '../engine/engine.js';
import { stageBuilder } from '../builders.js';
import { Gopid1Error } from '../errors.js';
import { ARCH_FACTS, DEFAULT_SERIES, firmwareLabel, type Arch, type Firmware } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import { BIOS_MODULES, EFI_MODULES, grubBootInput } from './grub.js';
import { fixIsoDates } from './dates.js';
import { makeHybrid, padToChunk, type HybridLayout } from './hybrid.js';

export interface IsoBuildOptions {
  /** Machine name: the GRUB entry and the application id carry it. */
  name: string;
  /** File name in the out dir's staging directory. */
  file: string;
  bzImage: string;
  initramfs: string;
  /** The kernel command line, the same `gopid1 boot` uses. */
  cmdline: string;
  /** amd64 ISOs boot under BIOS (and UEFI with `uefi`); arm64 ones under UEFI alone. */
  arch: Arch;
  /** Add the UEFI El Torito entry (efi.img with GRUB's BOOTX64.EFI, BOOTAA64.EFI on arm64); required on arm64. */
  uefi: boolean;
  menuTimeoutSeconds: number;
  /** Every date in the ISO and in efi.img. */
  sourceDateEpoch: number;
}

export interface IsoBuildResult {
  /** <outDir>/<name>.iso */
  path: string;
  file: string;
  bytes: number;
  uefi: boolean;
  /** The firmware it boots under. */
  firmware: Firmware[];
  hybrid: HybridLayout;
  builder: BuilderImage;
  durationMs: number;
}

/** The firmware an ISO of this architecture boots under: the BIOS where the architecture has one, UEFI when asked (always on arm64). */
export function isoFirmware(arch: Arch, uefi: boolean): Firmware[] {
  return [...(ARCH_FACTS[arch].bios ? ['bios' as const] : []), ...(uefi || !ARCH_FACTS[arch].bios ? ['uefi' as const] : [])];
}

/** An ISO 9660 volume id: up to 32 of A–Z, 0–9 and _. */
export function volumeId(name: string): string {
  const id = name.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, 32);
  return id === '' ? 'GOPID1' : id;
}

/**
 * Masters a GRUB-bootable ISO in the ISO builder: GRUB's BIOS El Torito image (and with `uefi` an efi.img
 * holding BOOTX64.EFI as a second entry; on arm64 an efi.img holding BOOTAA64.EFI as the only entry), genisoimage;
 * then, here, every date set to SOURCE_DATE_EPOCH and the USB-hybrid MBR written.
 */
export async function buildIso(context: StageContext, options: IsoBuildOptions): Promise<IsoBuildResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'iso', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const [kernel, initramfs] = await Promise.all([readFile(options.bzImage), readFile(options.initramfs)]);
  const initramfsFile = path.basename(options.initramfs);
  const marker = `gopid1-${sha256(`${sha256(kernel)}${sha256(initramfs)}${options.name}`).slice(0, 16)}.id`;
  const facts = ARCH_FACTS[options.arch];
  const firmware = isoFirmware(options.arch, options.uefi);
  const scratch = await mkdtemp(path.join(out.staging, 'iso-'));
  try {
    report({ kind: 'step', stage: 'iso', text: `mastering the ISO (${firmwareLabel(firmware)})` });
    await engine.runStep({
      role: 'iso-master',
      title: 'iso: master',
      image: builder.id,
      cmd: ['iso-step'],
      env: {
        GOPID1_NAME: options.name,
        GOPID1_VOLID: volumeId(options.name),
        GOPID1_UEFI: firmware.includes('uefi') ? '1' : '0',
        GOPID1_EFI_ARCH: facts.efiArch,
        GOPID1_KERNEL_FILE: facts.kernelImage,
        GOPID1_MARKER: marker,
        GOPID1_BIOS_MODULES: BIOS_MODULES.join(' '),
        GOPID1_EFI_MODULES: EFI_MODULES.join(' '),
        SOURCE_DATE_EPOCH: String(options.sourceDateEpoch),
      },
      limits: context.limits,
      writable: ['/iso'],
      inputs: [grubBootInput({ kernel, initramfs, initramfsFile }, { ...options, kernelFile: facts.kernelImage, serial: facts.bios }, marker)],
      outputs: [{ path: '/iso/out', dest: scratch }],
      logFile: path.join(out.logs, 'iso.log'),
      onLine: (line) => report({ kind: 'line', stage: 'iso', line }),
      ...(signal ? { signal } : {}),
    });
    const iso = padToChunk(await readFile(path.join(scratch, 'out', 'image.iso')));
    let hybrid: HybridLayout;
    try {
      fixIsoDates(iso, options.sourceDateEpoch);
      hybrid = makeHybrid(iso, facts.bios ? await readFile(path.join(scratch, 'out', 'boot_hybrid.img')) : undefined);
    } catch (error) {
      throw new Gopid1Error('STEP_FAILED', `cannot finish the ISO: ${error instanceof Error ? error.message : String(error)}`, {
        step: 'iso: dates and hybrid MBR',
        hint: 'The ISO builder produced an unexpected image; rebuild the builder images (`gopid1 clean --images`) and try again.',
        cause: error,
      });
    }
    const file = options.file;
    const target = out.staged(file);
    await writeFile(target, iso, { mode: 0o644 });
    report({ kind: 'done', stage: 'iso', text: `${file} mastered (${iso.length} bytes, ${firmwareLabel(firmware)}, USB-hybrid)` });
    return { path: target, file, bytes: iso.length, uefi: firmware.includes('uefi'), firmware, hybrid, builder, durationMs: Date.now() - started };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
