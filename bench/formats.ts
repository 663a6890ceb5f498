/**
 * The disk formats in `make bench`: the time each format's step takes in a build of every format on a warm kernel,
 * and QEMU start → the program's first line on each way a format is booted (the way its target presents it).
 */
import path from 'node:path';
import { boot, build, type BootOptions, type BuildOptions } from '../src/index.js';
import { OUTPUT_FORMATS, type OutputName } from '../src/outputs/table.js';
import { packageRoot } from '../src/paths.js';

/** Seconds, median (min–max). */
export type Cell = (values: number[]) => string;

/** One kernel for every format: EFI + net + the aws and gcp drivers (what the formats' needs add up to). */
const EVERY_FORMAT: OutputName[] = OUTPUT_FORMATS.map((format) => format.name).filter((name) => name !== 'iso');

interface BootPath {
  label: string;
  options: (grub: string, uki: string) => BootOptions;
}

const BOOT_PATHS: BootPath[] = [
  { label: 'kernel + initramfs, no firmware step (`boot`, qboot)', options: (grub) => ({ dir: grub }) },
  { label: '`iso-uefi` as a CD-ROM under SeaBIOS', options: (grub) => ({ dir: grub, format: 'iso' }) },
  { label: '`iso-uefi` as a CD-ROM under OVMF', options: (grub) => ({ dir: grub, format: 'iso-uefi' }) },
  { label: '`raw`, IDE, SeaBIOS (GRUB i386-pc)', options: (grub) => ({ dir: grub, format: 'raw' }) },
  { label: '`raw`, virtio-blk, SeaBIOS', options: (grub) => ({ disk: path.join(grub, 'hello.raw'), diskBus: 'virtio' }) },
  { label: '`raw`, NVMe, OVMF, q35 (GRUB x86_64-efi)', options: (grub) => ({ disk: path.join(grub, 'hello.raw'), diskBus: 'nvme', uefi: true, machine: 'q35' }) },
  { label: '`raw`, virtio-scsi, OVMF', options: (grub) => ({ disk: path.join(grub, 'hello.raw'), diskBus: 'scsi', uefi: true }) },
  { label: '`aws`, NVMe, OVMF, q35, NIC (`boot --format aws`)', options: (grub) => ({ dir: grub, format: 'aws' }) },
  { label: '`qcow2`, IDE, SeaBIOS', options: (grub) => ({ dir: grub, format: 'qcow2' }) },
  { label: '`vmdk`, IDE, SeaBIOS', options: (grub) => ({ dir: grub, format: 'vmdk' }) },
  { label: '`vhd`, IDE, SeaBIOS', options: (grub) => ({ dir: grub, format: 'vhd' }) },
  { label: '`uki` started by OVMF alone (`boot --format uki`)', options: (grub) => ({ dir: grub, format: 'uki' }) },
  { label: '`raw --boot uki`, IDE, OVMF (the UKI on the ESP)', options: (_grub, uki) => ({ dir: uki, format: 'raw' }) },
  { label: '`aws --boot uki`, NVMe, OVMF, q35, NIC', options: (_grub, uki) => ({ dir: uki, format: 'aws' }) },
];

export async function benchFormats(work: string, runs: number, cell: Cell, log: (text: string) => void): Promise<string[]> {
  const shared: BuildOptions = { app: path.join(packageRoot, 'examples', 'hello'), compress: 'gzip' };
  const grub = path.join(work, 'formats-grub');
  const uki = path.join(work, 'formats-uki');
  log('formats: warm-up build of every format (kernel, builder images)');
  await build({ ...shared, out: grub, formats: EVERY_FORMAT });
  const steps = new Map<OutputName, number[]>(EVERY_FORMAT.map((name) => [name, []]));
  const totals: number[] = [];
  for (let i = 0; i < runs; i++) {
    log(`formats: build of every format (${i + 1}/${runs})`);
    const result = await build({ ...shared, out: grub, formats: EVERY_FORMAT });
    totals.push(result.durations.totalMs);
    for (const [name, ms] of Object.entries(result.durations.outputsMs)) steps.get(name as OutputName)?.push(ms);
  }
  const ukiBuild = await build({ ...shared, out: uki, formats: ['raw', 'gcp', 'aws'], boot: 'uki' });
  const firstLines: [string, number[]][] = [];
  for (const bootPath of BOOT_PATHS) {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      log(`formats: ${bootPath.label} (${i + 1}/${runs})`);
      const result = await boot({ ...bootPath.options(grub, uki), expect: /Hello from Golang/, timeoutSeconds: 120 });
      ms.push(result.firstLineMs ?? result.durationMs);
    }
    firstLines.push([bootPath.label, ms]);
  }
  return [
    '## Disk formats',
    '',
    `Written by \`make bench\` (or \`BENCH_ONLY=formats\`, which updates this section alone). examples/hello, \`--compress gzip\`,`,
    `one kernel for every format (EFI, networking, the aws and gcp drivers), warm: from the cache. Seconds, median (min–max) of ${runs} runs.`,
    '',
    `Each format's step in \`build --format ${EVERY_FORMAT.join(',')}\`: the raw disk is made once, in \`raw\`'s step; the`,
    'conversions read it, `aws` copies it, `uki` is made by systemd-ukify.',
    '',
    '| format | its step |',
    '|---|---:|',
    ...EVERY_FORMAT.map((name) => `| \`${name}\` | ${cell(steps.get(name) ?? [])} |`),
    `| the whole build (Go, initramfs and every format; kernel from the cache) | ${cell(totals)} |`,
    `| \`build --format raw,gcp,aws --boot uki\` (the UKI made for the disks) | ${cell([ukiBuild.durations.totalMs])} |`,
    '',
    `QEMU start → the program's first line, each way \`boot\` presents a format (TCG, ${runs} boots each):`,
    '',
    '| boot path | first line |',
    '|---|---:|',
    ...firstLines.map(([label, ms]) => `| ${label} | ${cell(ms)} |`),
    '',
  ];
}

/** `text` with the section of the same heading (section's first line, `## …`) replaced by `section` (appended when it has none). */
export function withSection(text: string, section: string[]): string {
  const start = text.indexOf(`\n${section[0] ?? ''}\n`);
  if (start < 0) return `${text.trimEnd()}\n\n${section.join('\n')}`;
  const next = text.indexOf('\n## ', start + 1);
  return `${text.slice(0, start + 1)}${section.join('\n')}${next < 0 ? '' : text.slice(next + 1)}`;
}
