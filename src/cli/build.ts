import type { Command } from 'commander';
import { Option } from 'commander';
import { build, type BuildResult } from '../build.js';
import type { KernelConfigBase } from '../kernel/build.js';
import { collect, globalFlags, nonNegativeInteger, positiveInteger, type CommandContext } from './context.js';
import { formatBytes, formatMiB, formatSeconds, outputMode, table } from './output.js';
import { ProgressView } from './progress.js';

interface BuildFlags {
  out: string;
  name?: string;
  package: string;
  kernelSource: string;
  kernelConfig: KernelConfigBase;
  kernelFragment?: string[];
  kernelSha256?: string;
  cmdline?: string;
  iso?: boolean;
  uefi?: boolean;
  menuTimeout: number;
  cgo?: boolean;
  strip: boolean;
  jobs?: number;
  cache: boolean;
  sourceDateEpoch?: number;
}

export function sizeTable(result: BuildResult): string {
  const { artifacts, kernel } = result.manifest;
  const total = artifacts.bzImage.bytes + artifacts.initramfs.bytes;
  const rows = [
    ['artifact', 'bytes', 'MiB'],
    ['bzImage', formatBytes(artifacts.bzImage.bytes), formatMiB(artifacts.bzImage.bytes)],
    ['initramfs.cpio.gz', formatBytes(artifacts.initramfs.bytes), formatMiB(artifacts.initramfs.bytes)],
    ['total', formatBytes(total), formatMiB(total)],
    ...(artifacts.iso ? [[`${artifacts.iso.file} (${artifacts.iso.uefi ? 'BIOS + UEFI' : 'BIOS'}, USB-hybrid)`, formatBytes(artifacts.iso.bytes), formatMiB(artifacts.iso.bytes)]] : []),
  ];
  return [
    table(rows, [1, 2]),
    `init ${formatBytes(artifacts.init.bytes)} bytes (unpacked initramfs ${formatBytes(artifacts.initramfs.unpackedBytes)}); ` +
      `Linux ${kernel.release}${kernel.fromCache ? ' from the cache' : ''}; built in ${formatSeconds(result.durations.totalMs)} → ${result.outDir}`,
  ].join('\n');
}

export function registerBuild(program: Command, context: CommandContext): void {
  program
    .command('build')
    .description('build a Go module into bzImage + initramfs (the program is /init), in Docker builder containers')
    .argument('<app>', 'directory of the Go module (holds go.mod)')
    .option('-o, --out <dir>', 'out dir for bzImage, init, initramfs.cpio.gz, kernel.config, manifest.json, logs/', 'dist')
    .option('--name <name>', 'machine name (default: the app directory name)')
    .option('--package <path>', 'main package inside the module', '.')
    .option('--kernel-source <source>', 'debian:<series> | kernel.org:<version> | path to a tarball or source tree', 'debian:trixie')
    .addOption(new Option('--kernel-config <base>', 'base configuration').choices(['minimal', 'defconfig']).default('minimal'))
    .option('--kernel-fragment <file>', 'extra Kconfig fragment, applied after the base (repeatable)', collect)
    .option('--kernel-sha256 <hex>', 'expected sha256 of a kernel.org tarball (default: kernel.org sha256sums.asc)')
    .option('--cmdline <args>', 'extra kernel command line, recorded for boot and the ISO')
    .option('--iso', 'also master <name>.iso: GRUB, BIOS El Torito, USB-hybrid (genisoimage)')
    .option('--uefi', 'the ISO also boots under UEFI (adds EFI to the kernel); implies --iso')
    .option('--menu-timeout <seconds>', 'seconds the ISO\'s GRUB menu waits', nonNegativeInteger('--menu-timeout'), 0)
    .option('--cgo', 'allow cgo, linked fully static (-linkmode=external -extldflags=-static)')
    .option('--no-strip', 'keep the symbol table and DWARF in the program (no -s -w)')
    .option('-j, --jobs <n>', 'parallel kernel compile jobs (default: CPU count)', positiveInteger('--jobs'))
    .option('--no-cache', 'rebuild the kernel even when the cache has it')
    .option('--source-date-epoch <seconds>', 'timestamp for reproducible output (default: $SOURCE_DATE_EPOCH, the app\'s last commit, or 2024-01-01)', positiveInteger('--source-date-epoch'))
    .action(async (app: string, flags: BuildFlags, command: Command) => {
      const global = globalFlags(command);
      const mode = outputMode(global);
      const view = new ProgressView(mode, global.verbose ?? false);
      try {
        const result = await build({
          app,
          out: flags.out,
          package: flags.package,
          kernelSource: flags.kernelSource,
          kernelConfig: flags.kernelConfig,
          kernelFragments: flags.kernelFragment ?? [],
          cgo: flags.cgo ?? false,
          strip: flags.strip,
          cache: flags.cache,
          ...(flags.name !== undefined ? { name: flags.name } : {}),
          ...(flags.kernelSha256 !== undefined ? { kernelSha256: flags.kernelSha256 } : {}),
          ...(flags.cmdline !== undefined ? { cmdline: flags.cmdline } : {}),
          iso: flags.iso ?? false,
          uefi: flags.uefi ?? false,
          menuTimeoutSeconds: flags.menuTimeout,
          ...(flags.jobs !== undefined ? { jobs: flags.jobs } : {}),
          ...(flags.sourceDateEpoch !== undefined ? { sourceDateEpoch: flags.sourceDateEpoch } : {}),
          onProgress: view.onEvent,
          signal: context.signal,
        });
        view.stop();
        if (mode === 'json') process.stdout.write(`${JSON.stringify({ ok: true, outDir: result.outDir, durations: result.durations, manifest: result.manifest }, null, 2)}\n`);
        else process.stdout.write(`${sizeTable(result)}\n`);
      } catch (error) {
        view.fail();
        throw error;
      }
    });
}
