import type { Command } from 'commander';
import { type ProgressEvent, verify, type VerifyResult } from '../index.js';
import { addBuildOptions, buildFailure, buildOptionsWithSpec, type BuildFlags } from './build-options.js';
import type { CommandContext } from './context.js';
import { table } from './output.js';
import { withProgress } from './progress-view.js';

interface VerifyFlags extends BuildFlags {
  against?: string;
  keep?: boolean;
}

function report(result: VerifyResult, against: string | undefined): string {
  const rows = [['artifact', 'file', against ? 'against the manifest' : 'build 1 vs build 2']];
  const details: string[] = [];
  for (const a of result.artifacts) {
    const verdict = a.missing ? `missing in the ${a.missing === 'actual' ? 'new build' : 'manifest'}` : a.identical ? `identical (sha256 ${a.expectedSha256.slice(0, 16)}…)` : 'DIFFERS';
    rows.push([a.artifact, a.file, verdict]);
    if (a.difference) {
      details.push(`${a.file}: first difference at byte ${a.difference.offset}, ${a.difference.where}`, `  ${against ? 'published' : 'build 1'}: ${a.difference.expected}`, `  ${against ? 'this build' : 'build 2'}: ${a.difference.actual}`);
    } else if (!a.identical && !a.missing) {
      details.push(`${a.file}: sha256 ${a.expectedSha256} expected, ${a.actualSha256 ?? '?'} built (the published file is not beside the manifest, so no offset)`);
    }
  }
  const lines = [table(rows), ...details];
  if (result.toolchainChanges.length > 0) lines.push('builder packages that differ from the manifest:', ...result.toolchainChanges.slice(0, 20).map((c) => `  ${c}`));
  if (result.dirs.length > 0) lines.push(`kept: ${result.dirs.join(' ')}`);
  lines.push(result.identical ? '✔ reproducible: every artifact is identical' : '✖ not reproducible');
  return lines.join('\n');
}

export function registerVerify(program: Command, context: CommandContext): void {
  addBuildOptions(
    program
      .command('verify')
      .description('build twice from nothing (or once, against a published manifest.json) and compare every artifact byte for byte')
      .argument('<app>', 'directory of the Go module (holds go.mod)'),
  )
    .option('--against <manifest.json>', 'compare one fresh build with this manifest (and the files beside it)')
    .option('--keep', 'keep the build directories')
    .action(async (app: string, flags: VerifyFlags, command: Command) => {
      const options = await buildOptionsWithSpec(app, flags, command).catch(buildFailure());
      const { result, mode } = await withProgress(command, (onEvent) =>
        verify({
          ...options,
          ...(flags.against !== undefined ? { against: flags.against } : {}),
          keep: flags.keep ?? false,
          onProgress: (event: ProgressEvent, round: number) => onEvent(event.kind === 'line' ? event : { ...event, text: `[build ${round}] ${event.text}` }),
          signal: context.signal,
        }).catch(buildFailure()),
      );
      if (mode === 'json') process.stdout.write(`${JSON.stringify({ ok: result.identical, ...result }, null, 2)}\n`);
      else process.stdout.write(`${report(result, flags.against)}\n`);
      context.setExitCode(result.identical ? 0 : 1);
    });
}
