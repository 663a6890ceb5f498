import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import {
  type AccelChoice,
  compare,
  type CompareResult,
  DEFAULT_OUT_DIR,
  VARIANT_NAMES,
  type VariantName,
} from '../index.js';
import { addBuildOptions, addOutOption, buildFailure, buildOptionsWithSpec, type BuildFlags } from './build-options.js';
import { nonNegativeInteger, positiveInteger, type CommandContext } from './context.js';
import { formatBytes, formatMiB, table } from './output.js';
import { withProgress } from './progress-view.js';

interface CompareFlags extends BuildFlags {
  out?: string;
  cache: boolean;
  variants?: VariantName[];
  runs: number;
  window: number;
  accel: AccelChoice;
  keep?: boolean;
}

function variantList(value: string): VariantName[] {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!(VARIANT_NAMES as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown variant "${name}": pick from ${VARIANT_NAMES.join(', ')}.`);
  }
  if (names.length === 0) throw new InvalidArgumentError('name at least one variant.');
  return names as VariantName[];
}

function ms(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value)} ms` : '—';
}

function ratio(a: number, b: number): string {
  const r = a / b;
  if (!Number.isFinite(r)) return '—';
  return r > 0 && r < 0.005 ? '<0.01×' : `${r.toFixed(2)}×`;
}

function mib(value: number): string {
  return Number.isFinite(value) ? `${formatMiB(value)} MiB` : '—';
}

export function compareTable(result: CompareResult): string {
  const { report } = result;
  const vmBytes = report.vm.kernelBytes + report.vm.initramfsBytes;
  const rows = [
    ['', 'bytes', 'start → first output', 'memory', 'VM / this'],
    ['VM (bzImage + initramfs)', formatBytes(vmBytes), ms(report.vm.bootToFirstOutputMs), `${mib(report.vm.hostRssBytes)} (QEMU RSS)`, ''],
    ...report.containers.map((c) => [`${c.variant} image`, formatBytes(c.imageBytes), ms(c.startToFirstOutputMs), mib(c.memoryBytes), ratio(vmBytes, c.imageBytes)]),
  ];
  return [
    table(rows, [1, 2, 3, 4]),
    `medians of ${report.runs} run(s); ${report.arch ?? 'amd64'}; ${report.accel}${report.accel === 'tcg' ? ' (software emulation: boot times are far above what KVM gives)' : ''}; ${report.machine.cpus} CPU(s)`,
    ...(report.containersNote !== undefined ? [`containers not run: ${report.containersNote}`] : []),
    `→ ${result.files.markdown}, ${result.files.json}, ${result.files.svg}${result.images.length > 0 ? `; kept ${result.images.join(' ')}` : ''}`,
  ].join('\n');
}

export function registerCompare(program: Command, context: CommandContext): void {
  addOutOption(
    addBuildOptions(
      program
        .command('compare')
        .description('measure the machine against the same program as container images: size, start to first output, memory')
        .argument('<app>', 'directory of the Go module (holds go.mod)'),
    ),
    'out dir of the build; compare.json, compare.md and compare.svg go there too',
  )
    .option('--no-cache', 'rebuild everything: no kernel from the cache, no Go build cache')
    .option('--variants <list>', `container images to measure, comma-separated (${VARIANT_NAMES.join(', ')}; default: all of them, for arm64 scratch and distroless)`, variantList)
    .option('--runs <n>', 'measured runs of each figure (medians, with min and max)', positiveInteger('--runs'), 5)
    .option('--window <ms>', 'how long each program runs after its first output while its memory is sampled', nonNegativeInteger('--window'), 1000)
    .addOption(new Option('--accel <accel>', 'QEMU acceleration: auto = KVM only when usable').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--keep', 'keep the container images (gopid1-compare-<name>:<variant>)')
    .action(async (app: string, flags: CompareFlags, command: Command) => {
      const options = await buildOptionsWithSpec(app, flags, command).catch(buildFailure());
      const { result, mode } = await withProgress(command, (onProgress) =>
        compare({
          ...options,
          ...(flags.out !== undefined ? { out: flags.out } : {}),
          cache: flags.cache,
          ...(flags.variants ? { variants: flags.variants } : {}),
          runs: flags.runs,
          windowMs: flags.window,
          accel: flags.accel,
          keep: flags.keep ?? false,
          onProgress,
          signal: context.signal,
        }).catch(buildFailure(flags.out ?? DEFAULT_OUT_DIR)),
      );
      if (mode === 'json') process.stdout.write(`${JSON.stringify({ ok: true, ...result.report, files: result.files, images: result.images }, null, 2)}\n`);
      else process.stdout.write(`${compareTable(result)}\n`);
    });
}
