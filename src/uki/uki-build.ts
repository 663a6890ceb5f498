import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { stageBuilder } from '../builders.js';
import { type BuilderImage, packFiles } from '../engine/engine.js';
import { ARCH_FACTS, DEFAULT_SERIES, type Arch } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';

export interface UkiBuildOptions {
  /** Machine name: PRETTY_NAME and IMAGE_ID of the image's .osrel, which boot menus show. */
  name: string;
  /** File name in the out dir's staging directory. */
  file: string;
  /** The kernel's architecture, which picks systemd-stub's (linuxx64 or linuxaa64); default amd64. */
  arch?: Arch;
  bzImage: string;
  initramfs: string;
  /** The kernel command line, in the image's .cmdline section. */
  cmdline: string;
}

export interface UkiBuildResult {
  file: string;
  bytes: number;
  builder: BuilderImage;
  durationMs: number;
}

/** A value of an os-release line, double-quoted with `"`, `\`, `$` and backquotes escaped (os-release(5)). */
function osReleaseValue(value: string): string {
  return `"${value.replace(/[\n\r]/g, ' ').replace(/(["\\$`])/g, '\\$1')}"`;
}

/** The image's .osrel section: who it is, not the builder's Debian (which ukify would put there otherwise). */
export function osRelease(name: string): string {
  const id = name.toLowerCase().replace(/[^a-z0-9._-]/g, '_') || 'gopid1';
  return ['NAME=gopid1', 'ID=gopid1', `PRETTY_NAME=${osReleaseValue(`${name} (gopid1)`)}`, `IMAGE_ID=${id}`, ''].join('\n');
}

/**
 * Makes a Unified Kernel Image in the ISO builder with systemd-ukify: Debian's systemd-stub with the kernel, the
 * initramfs, the command line and an os-release as PE sections. One PE file that UEFI firmware starts directly;
 * its bytes follow from its inputs and the stub (ukify takes the PE timestamp from the stub).
 */
export async function buildUki(context: StageContext, options: UkiBuildOptions): Promise<UkiBuildResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'iso', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const [kernel, initramfs] = await Promise.all([readFile(options.bzImage), readFile(options.initramfs)]);
  const scratch = await mkdtemp(path.join(out.staging, 'uki-'));
  try {
    report({ kind: 'step', stage: 'uki', text: 'making the Unified Kernel Image (systemd-stub)' });
    await engine.runStep({
      role: 'uki-make',
      title: 'uki: make',
      image: builder.id,
      cmd: ['uki-step'],
      env: { GOPID1_EFI_ARCH: ARCH_FACTS[options.arch ?? 'amd64'].efiArch },
      limits: context.limits,
      writable: ['/iso'],
      inputs: [
        {
          path: '/iso',
          archive: () =>
            packFiles([
              { name: 'in/bzImage', data: kernel },
              { name: 'in/initrd', data: initramfs },
              { name: 'in/cmdline', data: options.cmdline },
              { name: 'in/os-release', data: osRelease(options.name) },
            ]),
        },
      ],
      outputs: [{ path: '/iso/out', dest: scratch }],
      logFile: path.join(out.logs, 'uki.log'),
      onLine: (line) => report({ kind: 'line', stage: 'uki', line }),
      ...(signal ? { signal } : {}),
    });
    await rename(path.join(scratch, 'out', 'uki.efi'), out.staged(options.file));
    const bytes = (await stat(out.staged(options.file))).size;
    report({ kind: 'done', stage: 'uki', text: `${options.file} made (${bytes} bytes, EFI application)` });
    return { file: options.file, bytes, builder, durationMs: Date.now() - started };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
