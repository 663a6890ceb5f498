/**
 * `make parity`: Go's own tests of the standard packages a program leans on, as a FROM-scratch container and in the
 * default machine (bench/parity.ts); writes docs/PARITY.md.
 *
 *   PARITY_PACKAGES  space-separated import paths (default: bench/parity.ts's list)
 *   PARITY_DIRECT=0  leave out the third run of each package, with the test binary as PID 1 (--init direct)
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { packageRoot } from '../src/paths.js';
import { resolveAccel } from '../src/qemu/command.js';
import { counts, directCause, measureParity, PARITY_PACKAGES, PARITY_SKIPS, PARITY_TAGS, regressions, type PackageParity, type SideRun } from './parity.js';

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A pipe inside a Markdown table cell ends the cell unless escaped. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/`/g, "'");
}

function tally(run: SideRun): string {
  const { pass, fail, skip } = counts(run);
  const status = run.exitStatus === undefined ? ', did not end' : run.exitStatus > 1 ? `, exit ${run.exitStatus}` : '';
  return `${pass} / ${fail} / ${skip}${status}`;
}

function packageRow(parity: PackageParity): string {
  const lost = regressions(parity);
  const direct = parity.direct ? ` ${tally(parity.direct)} | ${regressions(parity, 'direct').length} |` : '';
  return `| \`${parity.importPath}\` | ${tally(parity.container)} | ${tally(parity.machine)} | ${lost.length === 0 ? '—' : lost.map((r) => r.test).join(', ')} |${direct}`;
}

/** The differences under the supervising init (the goal: none), each with the first line it printed there. */
function differences(results: PackageParity[]): string[] {
  const lines = results.flatMap((parity) => regressions(parity).map((r) => `| \`${parity.importPath}\` | ${r.test} | ${r.outcome} | ${cell(r.reason)} |`));
  if (lines.length === 0) return ['No test passes in the container and fails or is skipped in the machine.', ''];
  return ['Every test that passes in the container and not in the machine, with the first line it printed there:', '', '| package | test | there | why |', '|---|---|---|---|', ...lines, ''];
}

/** The differences as PID 1, put down to their causes: a summary by cause, then every test (folded). */
function directDifferences(results: PackageParity[]): string[] {
  const rows = results.flatMap((parity) => {
    const lost = regressions(parity, 'direct');
    // A test that printed nothing itself failed through its subtests: their cause is its cause.
    const causeOf = (test: string, reason: string): string | undefined => directCause(reason) ?? lost.map((r) => (r.test.startsWith(`${test}/`) ? directCause(r.reason) : undefined)).find(Boolean);
    return lost.map((r) => ({ importPath: parity.importPath, ...r, cause: causeOf(r.test, r.reason) ?? 'none of these: see its line' }));
  });
  if (rows.length === 0) return ['No test passes in the container and fails or is skipped as PID 1.', ''];
  const byCause = new Map<string, { tests: number; packages: Set<string> }>();
  for (const row of rows) {
    const entry = byCause.get(row.cause) ?? { tests: 0, packages: new Set<string>() };
    entry.tests += 1;
    entry.packages.add(row.importPath);
    byCause.set(row.cause, entry);
  }
  return [
    'Tests that pass in the container and not as PID 1, by cause (the first line each printed there, matched against',
    'what PID 1 lacks: bench/parity.ts DIRECT_CAUSES):',
    '',
    '| cause | tests | packages |',
    '|---|---:|---|',
    ...[...byCause.entries()].sort((a, b) => b[1].tests - a[1].tests).map(([cause, entry]) => `| ${cell(cause)} | ${entry.tests} | ${[...entry.packages].map((p) => `\`${p}\``).join(', ')} |`),
    '',
    '<details><summary>Every such test, with its first line as PID 1</summary>',
    '',
    '| package | test | there | cause | first line |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| \`${r.importPath}\` | ${r.test} | ${r.outcome} | ${cell(r.cause)} | ${cell(r.reason)} |`),
    '',
    '</details>',
    '',
  ];
}

/** What a test binary as PID 1 finds, as README's PID 1 table says: the differences below come from these. */
function directNotes(): string[] {
  return [
    'As PID 1 the test binary gets what the kernel gives before any init runs (README, "PID 1: --init direct or',
    'supervise"): /dev holds /dev/console and /dev/null alone (no devtmpfs, /dev/pts, /dev/shm, /dev/fd); /proc, /sys,',
    '/tmp and /run are empty directories (nothing mounted; /tmp is the initramfs\'s own, writable); `lo` is down, so',
    '127.0.0.1 and ::1 do not answer until the program sets it up; the host name is the kernel\'s `(none)`; the',
    'environment is the kernel\'s (HOME=/, TERM=linux, no PATH or HOSTNAME); orphans are re-parented to the test binary;',
    'and the working directory is /. A program that needs one of these sets it up itself, or runs under the supervising init.',
    '',
  ];
}

/** Binaries that ended otherwise than with 0 (all passed) or 1 (some failed), on either side: what they said last. */
function endings(results: PackageParity[]): string[] {
  const rows = results.flatMap((parity) =>
    (['container', 'machine', 'direct'] as const).flatMap((side) => {
      const run = parity[side];
      return run === undefined || run.exitStatus === 0 || run.exitStatus === 1 ? [] : [`| \`${parity.importPath}\` | ${side} | ${run.exitStatus ?? 'stopped at the timeout'} | ${cell(run.ending ?? '')} |`];
    }),
  );
  if (rows.length === 0) return [];
  return ['Test binaries that did not end with 0 (passed) or 1 (failed), and why (their first `panic:` line, else their last line):', '', '| package | side | exit status | last word |', '|---|---|---|---|', ...rows, ''];
}

async function main(): Promise<void> {
  const packages = process.env.PARITY_PACKAGES?.split(/\s+/).filter(Boolean) ?? PARITY_PACKAGES;
  const work = mkdtempSync(path.join(os.tmpdir(), 'gopid1-parity-'));
  const direct = process.env.PARITY_DIRECT !== '0';
  const results = await measureParity(packages, work, log, { direct });
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const docker = (await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false })).stdout;
  const accel = await resolveAccel('auto');
  const doc = [
    '# Container parity',
    '',
    'Written by `make parity` (bench/parity-run.ts). Each package\'s own tests (`go test -c` in the Go builder, the flags',
    `of a gopid1 build, \`-tags ${PARITY_TAGS.join(',')}\`: neither side has /usr/share/zoneinfo) run with \`-short -v\`: as the only`,
    'file of a FROM-scratch image (`docker run --rm --network none`, the engine\'s default user and capabilities) and in',
    'the default machine under the supervising init, without `--net` (`gopid1 test <package>`)',
    direct ? 'and, third, in the same machine with the test binary itself as PID 1 (`gopid1 test --init direct <package>`).' : '(the run as PID 1 was left out: PARITY_DIRECT=0).',
    'Neither side has the Go toolchain or GOROOT, so tests that need them skip or fail on both; a FROM-scratch',
    'container has no /tmp, the machine has one. The machines have 512 MiB of RAM (`gopid1 test`\'s default).',
    ...Object.entries(PARITY_SKIPS).flatMap(([pkg, skips]) => skips.map((s) => `Left out of \`${pkg}\` on every side: ${s.test}, which ${s.why}.`)),
    '',
    `- Host: ${cpu}, ${os.availableParallelism()} cores; Docker engine ${docker}; QEMU accelerator ${accel.accel}`,
    '',
    `| package | container pass / fail / skip | machine pass / fail / skip | pass in the container, not in the machine |${direct ? ' PID 1 pass / fail / skip | pass in the container, not as PID 1 |' : ''}`,
    `|---|---:|---:|---|${direct ? '---:|---:|' : ''}`,
    ...results.map(packageRow),
    '',
    '## Under the supervising init',
    '',
    ...differences(results),
    ...(direct ? ['## The test binary as PID 1 (`--init direct`)', '', ...directNotes(), ...directDifferences(results)] : []),
    ...(endings(results).length > 0 ? ['## Binaries that did not end with 0 or 1', '', ...endings(results)] : []),
  ].join('\n');
  const target = path.join(packageRoot, 'docs', 'PARITY.md');
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, doc);
  process.stdout.write(`${doc}\n`);
  log(`parity: written to ${target}`);
}

// Exit explicitly: connections to the Docker engine must not keep the process alive.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`parity failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
