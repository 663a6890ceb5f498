import type { Command } from 'commander';
import { build, type BuildResult, DEFAULT_OUT_DIR, type Manifest, OUTPUT_FORMATS } from '../index.js';
import { addBuildOptions, addOutOption, buildFailure, buildOptionsWithSpec, type BuildFlags } from './build-options.js';
import type { CommandContext } from './context.js';
import { formatBytes, formatMiB, formatSeconds, table } from './output.js';
import { withProgress } from './progress-view.js';

interface BuildCommandFlags extends BuildFlags {
  out?: string;
  cache: boolean;
  force?: boolean;
}

/** A row per file of the chosen formats, as the output table labels it (iso and iso-uefi share one file). */
function formatRows(manifest: Manifest): string[][] {
  const seen = new Set<string>();
  return OUTPUT_FORMATS.flatMap((format) => {
    const record = manifest.artifacts[format.artifact];
    if (!record || seen.has(format.artifact)) return [];
    seen.add(format.artifact);
    return [[`${record.file} (${format.label(manifest)})`, formatBytes(record.bytes), formatMiB(record.bytes)]];
  });
}

export function sizeTable(result: BuildResult): string {
  const { artifacts, kernel, init, boot } = result.manifest;
  const total = artifacts.bzImage.bytes + artifacts.initramfs.bytes;
  const rows = [
    ['artifact', 'bytes', 'MiB'],
    [artifacts.bzImage.file, formatBytes(artifacts.bzImage.bytes), formatMiB(artifacts.bzImage.bytes)],
    [artifacts.initramfs.file, formatBytes(artifacts.initramfs.bytes), formatMiB(artifacts.initramfs.bytes)],
    ['total', formatBytes(total), formatMiB(total)],
    ...formatRows(result.manifest),
    ...(artifacts.dataDisk ? [[`${artifacts.dataDisk.file} (data disk, ext4, sparse)`, formatBytes(artifacts.dataDisk.bytes), formatMiB(artifacts.dataDisk.bytes)]] : []),
  ];
  const programs =
    init.mode === 'supervise'
      ? `app ${formatBytes(artifacts.app?.bytes ?? 0)} bytes + supervising init ${formatBytes(artifacts.init.bytes)} bytes`
      : `init ${formatBytes(artifacts.init.bytes)} bytes`;
  return [
    table(rows, [1, 2]),
    `${programs} (unpacked initramfs ${formatBytes(artifacts.initramfs.unpackedBytes)}); ${boot.net ? 'networking (virtio-net, IPv4 + IPv6); ' : ''}${result.plan.kernel.clouds.length > 0 ? `${result.plan.kernel.clouds.join(' + ')} drivers; ` : ''}` +
      `Linux ${kernel.release}${kernel.fromCache ? ' from the cache' : ''}; built in ${formatSeconds(result.durations.totalMs)} → ${result.outDir}`,
  ].join('\n');
}

export function registerBuild(program: Command, context: CommandContext): void {
  addOutOption(
    addBuildOptions(
      program
        .command('build')
        .description('build a Go module into bzImage + initramfs (the program is /init, or /app under --init supervise) and the chosen formats, in Docker builder containers')
        .argument('<app>', 'directory of the Go module (holds go.mod)'),
    ),
    'out dir for bzImage, init (+ app), initramfs.cpio.zst (or .xz, .gz), kernel.config, each format\'s file, manifest.json, logs/',
  )
    .option('--no-cache', 'rebuild everything: no kernel from the cache, no Go build cache')
    .option('--force', 'write into an out dir that holds files gopid1 did not make (it still deletes only what it made)')
    .action(async (app: string, flags: BuildCommandFlags, command: Command) => {
      const options = await buildOptionsWithSpec(app, flags, command).catch(buildFailure());
      const { result, mode } = await withProgress(command, (onProgress) =>
        build({ ...options, ...(flags.out !== undefined ? { out: flags.out } : {}), cache: flags.cache, ...(flags.force ? { force: true } : {}), onProgress, signal: context.signal }).catch(buildFailure(flags.out ?? DEFAULT_OUT_DIR)),
      );
      if (mode === 'json') process.stdout.write(`${JSON.stringify({ ok: true, outDir: result.outDir, durations: result.durations, manifest: result.manifest }, null, 2)}\n`);
      else process.stdout.write(`${sizeTable(result)}\n`);
    });
}
