/**
 * Where the kernel's boot time goes, initcall by initcall (issue 19): the default kernel built once more by hand in
 * the kernel builder, with the same fragments, to keep its System.map (the minimal kernel has no KALLSYMS, so
 * `initcall_debug` prints bare addresses); examples/hello booted on it with `initcall_debug loglevel=8`; each
 * initcall's time as the kernel reports it ("initcall … returned 0 after N usecs"), named from System.map.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { boot, build } from '../src/index.js';
import { decompressorFragment } from '../src/kernel/fragments.js';
import { packageRoot } from '../src/paths.js';
import type { InitramfsCompression } from '../src/plan/vocabulary.js';
import type { Cell } from './formats.js';
import { kernelByHand, median } from './stats.js';

/** One boot's initcalls in the order they ran: the kernel-clock time each started and how long it took. */
export interface InitcallRun {
  calls: { fn: string; startMs: number; ms: number }[];
  /** Kernel-clock times (ms) of the boot's landmarks, when printed. */
  marks: Partial<Record<Landmark, number>>;
}

/** Lines that mark the phases of a boot on the kernel's clock. */
const LANDMARKS = {
  memory: /\] Memory: /,
  unpacking: /\] Unpacking initramfs/,
  unpacked: /\] Freeing initrd memory/,
  freeing: /\] Freeing unused kernel image/,
  init: /\] Run \/init as init process/,
} as const;
export type Landmark = keyof typeof LANDMARKS;

/** Reads a System.map: text symbols by address (lower-case hex without 0x). */
export function parseSystemMap(text: string): Map<string, string> {
  const symbols = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [address, type, name] = line.trim().split(/\s+/);
    if (address && name && type && /^[tTwW]$/.test(type) && !symbols.has(address)) symbols.set(address.replace(/^0+(?=.)/, ''), name);
  }
  return symbols;
}

/** A function as initcall_debug prints it (`0xffffffff81e7c2a0` without KALLSYMS, `name+0x0/0x40` with), named. */
function functionName(printed: string, symbols: Map<string, string>): string {
  const hex = /^0x([0-9a-f]+)$/.exec(printed);
  if (!hex) return printed.replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+$/, '');
  return symbols.get((hex[1] ?? '').replace(/^0+(?=.)/, '')) ?? printed;
}

/** One boot's console (with printk times) read into its initcalls and landmarks. */
export function parseInitcalls(console: string, symbols: Map<string, string>): InitcallRun {
  const calls: InitcallRun['calls'] = [];
  const marks: InitcallRun['marks'] = {};
  const started = new Map<string, number>();
  for (const line of console.split('\n')) {
    const time = /^\[\s*(\d+\.\d+)\]/.exec(line);
    if (!time) continue;
    const at = Number(time[1]) * 1000;
    const calling = /\] calling {2}(\S+) @ \d+/.exec(line);
    if (calling) started.set(calling[1] ?? '', at);
    const returned = /\] initcall (\S+) returned -?\d+ after (\d+) usecs/.exec(line);
    if (returned) {
      const printed = returned[1] ?? '';
      calls.push({ fn: functionName(printed, symbols), startMs: started.get(printed) ?? at, ms: Number(returned[2]) / 1000 });
    }
    for (const [mark, pattern] of Object.entries(LANDMARKS) as [Landmark, RegExp][]) if (marks[mark] === undefined && pattern.test(line)) marks[mark] = at;
  }
  return { calls, marks };
}

/** Milliseconds: the median, and the range when there are several. */
function msCell(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const range = values.length > 1 ? ` (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})` : '';
  return `${median(values).toFixed(1)}${range}`;
}

/** The costliest initcalls over several boots: each function's times (one per boot), by median, costliest first. */
export function costliest(runs: readonly InitcallRun[], count: number): { fn: string; ms: number[] }[] {
  const times = new Map<string, number[]>();
  for (const run of runs) for (const call of run.calls) times.set(call.fn, [...(times.get(call.fn) ?? []), call.ms]);
  return [...times.entries()].map(([fn, ms]) => ({ fn, ms })).sort((a, b) => median(b.ms) - median(a.ms)).slice(0, count);
}

/** The default kernel, built by hand with the tool's fragments, keeping System.map and .config beside bzImage. */
async function kernelWithSymbols(work: string, kernelImage: string, initramfs: InitramfsCompression, log: (text: string) => void): Promise<string> {
  const out = path.join(work, 'initcalls-kernel');
  mkdirSync(out, { recursive: true });
  chmodSync(out, 0o777); // the kernel builder runs as its unprivileged user
  const fragment = path.join(packageRoot, 'dockerfiles', 'kernel', 'fragments', 'minimal.config');
  const decompressor = path.join(work, 'initcalls-decompressor.config');
  writeFileSync(decompressor, decompressorFragment(initramfs, 'minimal'));
  const jobs = os.availableParallelism();
  log('initcalls: the default kernel by hand, keeping System.map');
  await execa('docker', [
    'run', '--rm', '--network', 'none', '--label', 'gopid1.bench=initcalls', '-v', `${fragment}:/frag.config:ro`, '-v', `${decompressor}:/rd.config:ro`, '-v', `${out}:/out`, kernelImage, 'bash', '-c',
    kernelByHand(jobs, 'cp /work/b/arch/x86/boot/bzImage /work/b/System.map /work/b/.config /out/'),
  ]);
  return out;
}

/** The options of a .config that are set, in order: what two configurations must share to be the same kernel. */
function setOptions(config: string): string[] {
  return config.split('\n').filter((line) => /^CONFIG_\w+=/.test(line)).sort();
}

export async function benchInitcalls(work: string, runs: number, _cell: Cell, log: (text: string) => void): Promise<string[]> {
  const hello = path.join(packageRoot, 'examples', 'hello');
  log('initcalls: build of hello (the default machine)');
  const built = await build({ app: hello, out: path.join(work, 'initcalls') });
  const compression = built.manifest.artifacts.initramfs.format.replace(/^newc\+/, '') as InitramfsCompression;
  const dir = await kernelWithSymbols(work, built.manifest.kernel.builder.id, compression, log);
  const same = setOptions(readFileSync(path.join(dir, '.config'), 'utf8')).join('\n') === setOptions(readFileSync(path.join(built.outDir, built.manifest.artifacts.kernelConfig.file), 'utf8')).join('\n');
  const symbols = parseSystemMap(readFileSync(path.join(dir, 'System.map'), 'utf8'));
  const profiles: InitcallRun[] = [];
  for (let i = 0; i < runs; i++) {
    log(`initcalls: traced boot (${i + 1}/${runs})`);
    const result = await boot({ dir: built.outDir, kernel: path.join(dir, 'bzImage'), cmdline: 'initcall_debug loglevel=8', expect: /Hello from Golang/, timeoutSeconds: 300 });
    profiles.push(parseInitcalls(readFileSync(result.serialLog, 'utf8'), symbols));
  }
  const top = costliest(profiles, 15);
  const totals = profiles.map((run) => run.calls.reduce((sum, call) => sum + call.ms, 0));
  const mark = (name: Landmark): number[] => profiles.flatMap((run) => (run.marks[name] !== undefined ? [run.marks[name] ?? 0] : []));
  const lastReturn = profiles.map((run) => Math.max(...run.calls.map((call) => call.startMs + call.ms)));
  return [
    '## Initcalls (default machine, `initcall_debug loglevel=8`)',
    '',
    'Written by `make bench` (or `BENCH_ONLY=initcalls`, which updates this section alone). The default kernel',
    '(tinyconfig + minimal.config + the initramfs decompressor) built once more by hand in the kernel builder to keep its',
    `System.map (the minimal kernel has no KALLSYMS, so initcall_debug prints addresses); its configuration is ${same ? 'the same as' : '**not** the same as'}`,
    `the build's. examples/hello booted on it ${runs} times under TCG with \`initcall_debug loglevel=8\`: every debug message goes`,
    'to the serial console, so this boot is slower than a quiet one, and an initcall\'s time includes what it printed.',
    `Times in ms on the kernel's clock (median, min–max of ${runs}).`,
    '',
    '| initcall | ms |',
    '|---|---:|',
    ...top.map((entry) => `| \`${entry.fn}\` | ${msCell(entry.ms)} |`),
    `| all ${profiles[0]?.calls.length ?? 0} initcalls | ${msCell(totals)} |`,
    '',
    '| landmark (kernel clock) | ms |',
    '|---|---:|',
    `| \`Memory:\` (early memory set-up done) | ${msCell(mark('memory'))} |`,
    `| \`Unpacking initramfs\` | ${msCell(mark('unpacking'))} |`,
    `| \`Freeing initrd memory\` (unpacked) | ${msCell(mark('unpacked'))} |`,
    `| the last initcall returns | ${msCell(lastReturn)} |`,
    `| \`Freeing unused kernel image\` | ${msCell(mark('freeing'))} |`,
    `| \`Run /init\` | ${msCell(mark('init'))} |`,
    '',
  ];
}
