/**
 * `make soak`: boots hello again and again and counts the boots that never reach the program's first line. 100 on
 * the default machine, and SOAK_OTHERS (default 20) each on q35, microvm, the ISO under BIOS and under UEFI.
 * Writes docs/RELIABILITY.md: boots, hangs, median and max time to the first line.
 *
 *   SOAK_RUNS    boots on the default machine (default 100)
 *   SOAK_OTHERS  boots on each other way (default 20)
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { boot, build, type BootOptions } from '../src/index.js';
import { packageRoot } from '../src/paths.js';
import { resolveAccel } from '../src/qemu/command.js';

const runs = Number(process.env.SOAK_RUNS ?? 100);
const others = Number(process.env.SOAK_OTHERS ?? 20);
const hello = path.join(packageRoot, 'examples', 'hello');
/** A boot that has not printed its first line by then hangs (a normal one takes about 1 s here, OVMF about 5 s). */
const HANG_SECONDS = 30;

interface Way {
  label: string;
  boots: number;
  options: (dir: string) => BootOptions;
}

function log(text: string): void {
  process.stderr.write(`soak: ${text}\n`);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

async function soak(way: Way, dir: string): Promise<{ label: string; boots: number; hangs: number; ms: number[]; failures: string[] }> {
  const ms: number[] = [];
  const failures: string[] = [];
  let hangs = 0;
  for (let i = 0; i < way.boots; i++) {
    try {
      const result = await boot({ ...way.options(dir), expect: /Hello from Golang/, timeoutSeconds: HANG_SECONDS });
      ms.push(result.firstLineMs ?? result.expectMs ?? result.durationMs);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'BOOT_TIMEOUT') hangs += 1;
      else failures.push(`${code ?? 'error'}: ${(error as Error).message}`);
      // The console of a boot that went wrong, kept beside the report's figures.
      log(`${way.label}: boot ${i + 1} ${code ?? 'failed'}; last lines: ${readFileSync(path.join(dir, 'serial.log'), 'utf8').split('\n').slice(-5).join(' | ')}`);
    }
    if ((i + 1) % 10 === 0) log(`${way.label}: ${i + 1}/${way.boots} (${hangs} hung)`);
  }
  return { label: way.label, boots: way.boots, hangs, ms: ms.sort((a, b) => a - b), failures };
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'gopid1-soak-'));
  const dir = path.join(work, 'hello');
  log('building hello with both ISOs');
  await build({ app: hello, out: dir, formats: ['iso-uefi'] });
  const ways: Way[] = [
    { label: 'default machine (`pc`, qboot, kernel + initramfs)', boots: runs, options: (d) => ({ dir: d }) },
    { label: '`--machine q35`', boots: others, options: (d) => ({ dir: d, machine: 'q35' }) },
    { label: '`--machine microvm`', boots: others, options: (d) => ({ dir: d, machine: 'microvm' }) },
    { label: 'the ISO under BIOS (SeaBIOS, GRUB)', boots: others, options: (d) => ({ dir: d, format: 'iso' }) },
    { label: 'the ISO under UEFI (OVMF, GRUB)', boots: others, options: (d) => ({ dir: d, format: 'iso-uefi' }) },
  ];
  const results = [];
  for (const way of ways) {
    log(`${way.label}: ${way.boots} boots`);
    results.push(await soak(way, dir));
  }
  const accel = await resolveAccel('auto');
  const median = (ms: number[]): string => (ms.length === 0 ? '—' : seconds(ms[Math.floor((ms.length - 1) / 2)] ?? 0));
  const doc = [
    '# Reliability',
    '',
    'Written by `make soak` (bench/soak.ts), which reproduces it; every figure below was measured by that run:',
    '',
    `- Date: ${new Date().toISOString()}; QEMU accelerator: ${accel.accel} (${accel.reason}); ${os.availableParallelism()} cores`,
    `- examples/hello, booted with \`--expect "Hello from Golang"\` again and again; a boot that has not printed its first`,
    `  line after ${HANG_SECONDS} s counts as hung. Seconds from QEMU's start to the program's first line.`,
    '',
    '| way | boots | hung | other failures | first line, median | first line, max |',
    '|---|---:|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.label} | ${r.boots} | ${r.hangs} | ${r.failures.length} | ${median(r.ms)} | ${r.ms.length > 0 ? seconds(r.ms[r.ms.length - 1] ?? 0) : '—'} |`),
    '',
    ...results.flatMap((r) => r.failures.map((failure) => `- ${r.label}: ${failure}`)),
    '',
  ].join('\n');
  const target = path.join(packageRoot, 'docs', 'RELIABILITY.md');
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, doc);
  process.stdout.write(`${doc}\n`);
  log(`written to ${target}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
