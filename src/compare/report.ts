/**
 * Rendering of `gopid1 compare` results: the already-measured figures of the VM (bzImage + initramfs booted in
 * QEMU) and of each container variant, turned into a Markdown report and a self-contained SVG chart. Pure
 * functions only — no I/O, no measurement; every figure shown comes from the report passed in.
 */

import { Gopid1Error } from '../errors.js';

export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface VmFigures {
  kernelBytes: number;
  initramfsBytes: number;
  isoBytes: number | null;
  /** Median. */
  bootToFirstOutputMs: number;
  /** Median of QEMU's peak RSS on the host. */
  hostRssBytes: number;
  bootToFirstOutput: Stats;
  hostRss: Stats;
  /** E.g. why the guest's own view of its memory is not given. */
  guestMemoryNote: string;
}

export interface ContainerFigures {
  /** 'scratch' | 'distroless' | 'debian-slim' | 'golang' (any string). */
  variant: string;
  /** One line, e.g. "FROM scratch + the static binary". */
  description: string;
  /** Size as the engine reports it. */
  imageBytes: number;
  /** `docker save` tar, uncompressed. */
  savedBytes: number;
  /** Same, gzip -6. */
  savedGzipBytes: number;
  /** Median. */
  startToFirstOutputMs: number;
  /** Median of per-run peak memory from engine stats. */
  memoryBytes: number;
  startToFirstOutput: Stats;
  memory: Stats;
}

export interface CompareReport {
  app: string;
  /** The machine's and the images' architecture (absent in reports older than arm64 builds: amd64). */
  arch?: string;
  /** Why the containers were not run (their sizes alone are compared), when they were not. */
  containersNote?: string;
  runs: number;
  accel: 'kvm' | 'tcg';
  accelReason: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; kernel: string; docker: string; qemu: string };
  /** ISO date. */
  measuredAt: string;
  vm: VmFigures;
  containers: ContainerFigures[];
}

/** Median (mean of the two middle values for an even count), min and max of a non-empty list of samples. */
export function stats(samples: number[]): Stats {
  if (samples.length === 0) {
    throw new Gopid1Error('BAD_INPUT', 'cannot summarise an empty list of samples', { hint: 'Measure at least one run (--runs 1 or more).' });
  }
  if (samples.some((s) => !Number.isFinite(s))) {
    throw new Gopid1Error('BAD_INPUT', `samples must be finite numbers, got [${samples.join(', ')}]`, { hint: 'A measurement failed to produce a number; check its log.' });
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const at = (i: number): number => sorted[i] as number;
  const median = sorted.length % 2 === 1 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
  return { median, min: at(0), max: at(sorted.length - 1), samples: [...samples] };
}

const MIB = 1024 * 1024;
export const DASH = '—';
export const VM_LABEL = 'VM (bzImage + initramfs)';

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const msFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function finite(n: number): boolean {
  return typeof n === 'number' && Number.isFinite(n);
}

function bytes(n: number): string {
  return finite(n) ? `${intFormat.format(n)} B` : DASH;
}

export function mib(n: number): string {
  return finite(n) ? twoDecimals.format(n / MIB) : DASH;
}

function bytesWithMib(n: number): string {
  return finite(n) ? `${bytes(n)} (${mib(n)} MiB)` : DASH;
}

export function ms(n: number): string {
  return finite(n) ? msFormat.format(n) : DASH;
}

/** `a / b` as `1.63×`, or "—" when it cannot be computed. */
function ratio(a: number, b: number): string {
  if (!finite(a) || !finite(b) || b === 0) return DASH;
  const r = a / b;
  if (!finite(r)) return DASH;
  // Two decimals would print a tiny but real ratio as a misleading 0.00×.
  return r > 0 && r < 0.005 ? '<0.01×' : `${twoDecimals.format(r)}×`;
}

function msWithRange(median: number, s: Stats): string {
  if (!finite(median)) return DASH;
  const range = finite(s.min) && finite(s.max) ? ` (${ms(s.min)}–${ms(s.max)})` : '';
  return `${ms(median)} ms${range}`;
}

function mibWithRange(median: number, s: Stats): string {
  if (!finite(median)) return DASH;
  const range = finite(s.min) && finite(s.max) ? ` (${mib(s.min)}–${mib(s.max)})` : '';
  return `${mib(median)} MiB${range}`;
}

/** Text safe inside a Markdown table cell or a one-line paragraph. */
function mdInline(text: string): string {
  return text.replace(/\r?\n|\r/g, ' ').replace(/\|/g, '\\|').trim();
}

export function vmTotalBytes(vm: VmFigures): number {
  return vm.kernelBytes + vm.initramfsBytes;
}

/** The compare report as Markdown: conditions, one table, ratios against scratch, the chart, the memory note. */
export function renderMarkdown(report: CompareReport): string {
  const { vm, machine } = report;
  const vmTotal = vmTotalBytes(vm);
  const lines: string[] = [];

  lines.push(`# gopid1 compare: ${mdInline(report.app)}`, '');

  const accel =
    report.accel === 'kvm'
      ? 'QEMU ran with **KVM** (hardware virtualisation)'
      : 'QEMU ran with **TCG** — software emulation, far slower than KVM, so the VM boot times here are pessimistic';
  const reason = report.accelReason.trim() === '' ? '' : ` (${mdInline(report.accelReason)})`;
  const memory = finite(machine.memoryBytes) && machine.memoryBytes > 0 ? `, ${twoDecimals.format(machine.memoryBytes / (1024 * MIB))} GiB RAM` : '';
  lines.push(
    `${accel}${reason}. ` +
      `Host: ${intFormat.format(machine.cpus)} × ${mdInline(machine.cpuModel)}${memory}; ` +
      `kernel ${mdInline(machine.kernel)}, Docker ${mdInline(machine.docker)}, QEMU ${mdInline(machine.qemu)}. ` +
      `Each figure is the median of ${intFormat.format(report.runs)} run${report.runs === 1 ? '' : 's'} (min–max in brackets), ` +
      `measured ${mdInline(report.measuredAt)}. Absolute times vary between machines; the ratios travel better.`,
    '',
  );
  if (report.arch !== undefined) lines.push(`Architecture: **${mdInline(report.arch)}** (the machine and every image).`, '');
  if (report.containersNote !== undefined) lines.push(`Containers not run: ${mdInline(report.containersNote)}`, '');

  lines.push(
    '| variant | size | saved .tar.gz | start → first output | memory | VM / this |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  lines.push(
    `| **${VM_LABEL}** | ${bytesWithMib(vmTotal)} | ${bytes(vmTotal)} (already compressed) | ` +
      `${msWithRange(vm.bootToFirstOutputMs, vm.bootToFirstOutput)} | ${mibWithRange(vm.hostRssBytes, vm.hostRss)} QEMU host RSS | ${DASH} |`,
  );
  for (const c of report.containers) {
    const description = mdInline(c.description);
    const name = `\`${mdInline(c.variant).replace(/`/g, "'")}\`${description === '' ? '' : ` (${description})`}`;
    const saved = finite(c.savedGzipBytes) && c.savedGzipBytes > 0 ? bytes(c.savedGzipBytes) : DASH;
    lines.push(
      `| ${name} | ${bytesWithMib(c.imageBytes)} | ${saved} | ${msWithRange(c.startToFirstOutputMs, c.startToFirstOutput)} | ` +
        `${mibWithRange(c.memoryBytes, c.memory)} | ${ratio(vmTotal, c.imageBytes)} |`,
    );
  }
  lines.push('');

  if (vm.isoBytes !== null) {
    lines.push(`Bootable ISO (kernel + initramfs + GRUB): ${bytesWithMib(vm.isoBytes)}.`, '');
  }

  const scratch = report.containers.find((c) => c.variant === 'scratch');
  if (scratch) {
    lines.push(
      '## Ratios against scratch',
      '',
      `- Size: VM / scratch image = **${ratio(vmTotal, scratch.imageBytes)}** (${bytes(vmTotal)} vs ${bytes(scratch.imageBytes)})`,
      `- Start → first output: VM boot / scratch start = **${ratio(vm.bootToFirstOutputMs, scratch.startToFirstOutputMs)}** ` +
        `(${ms(vm.bootToFirstOutputMs)} ms vs ${ms(scratch.startToFirstOutputMs)} ms)`,
      `- Memory: QEMU host RSS / scratch container memory = **${ratio(vm.hostRssBytes, scratch.memoryBytes)}** ` +
        `(${mib(vm.hostRssBytes)} MiB vs ${mib(scratch.memoryBytes)} MiB)`,
      '',
    );
  }

  lines.push('![charts](compare.svg)', '');
  const note = mdInline(vm.guestMemoryNote);
  if (note !== '') lines.push(note, '');

  return lines.join('\n');
}
