/**
 * arm64 in `make bench`: the arm64 machine's sizes beside amd64's, and QEMU start → the program's first line under
 * TCG: amd64 on pc and arm64 on virt booted directly (device tree), and arm64's raw and aws disks under AAVMF (ACPI).
 */
import path from 'node:path';
import { boot, build, type BootOptions, type Manifest } from '../src/index.js';
import { packageRoot } from '../src/paths.js';
import type { Cell } from './formats.js';

interface BootPath {
  label: string;
  options: (amd64: string, arm64: string) => BootOptions;
}

const BOOT_PATHS: BootPath[] = [
  { label: 'amd64: kernel + initramfs on `pc` (qboot)', options: (amd64) => ({ dir: amd64 }) },
  { label: 'arm64: kernel + initramfs on `virt` (device tree)', options: (_amd64, arm64) => ({ dir: arm64 }) },
  { label: 'arm64: `raw`, virtio-blk, AAVMF (GRUB arm64-efi, ACPI)', options: (_amd64, arm64) => ({ dir: arm64, format: 'raw' }) },
  { label: 'arm64: `aws`, NVMe, AAVMF, NIC (`boot --format aws`)', options: (_amd64, arm64) => ({ dir: arm64, format: 'aws' }) },
];

function sizeRows(label: string, manifest: Manifest): string {
  const { bzImage, init, initramfs } = manifest.artifacts;
  const disk = manifest.artifacts.raw?.bytes ?? manifest.artifacts.aws?.bytes;
  return `| ${label} | ${bzImage.bytes} | ${init.bytes} | ${initramfs.bytes} | ${bzImage.bytes + initramfs.bytes} | ${disk ?? '—'} |`;
}

export async function benchArm64(work: string, runs: number, cell: Cell, log: (text: string) => void): Promise<string[]> {
  const hello = path.join(packageRoot, 'examples', 'hello');
  const amd64 = path.join(work, 'arch-amd64');
  const arm64 = path.join(work, 'arch-arm64');
  // The same kernels as the tests': amd64 with the EFI stub for its raw disk, arm64 with ACPI and the aws drivers.
  log('arm64: builds of hello for amd64 (raw) and arm64 (raw, aws)');
  const amd64Build = await build({ app: hello, out: amd64, formats: ['raw'] });
  const arm64Build = await build({ app: hello, out: arm64, arch: 'arm64', formats: ['raw', 'aws'] });
  const firstLines: [string, number[]][] = [];
  for (const bootPath of BOOT_PATHS) firstLines.push([bootPath.label, []]);
  // Interleaved, so a slow spell of the host touches every path alike.
  for (let i = 0; i < runs; i++) {
    for (const [index, bootPath] of BOOT_PATHS.entries()) {
      log(`arm64: ${bootPath.label} (${i + 1}/${runs})`);
      const result = await boot({ ...bootPath.options(amd64, arm64), expect: /Hello from Golang/, timeoutSeconds: 300 });
      firstLines[index]?.[1].push(result.firstLineMs ?? result.durationMs);
    }
  }
  return [
    '## arm64',
    '',
    'Written by `make bench` (or `BENCH_ONLY=arm64`, which updates this section alone). examples/hello built for each',
    'architecture with its minimal kernel and a raw disk (arm64: also the aws disk, so ACPI and the aws drivers are in its',
    'kernel); kernels from the cache. Everything below runs under TCG: arm64 is emulated on this x86 host, amd64 too when',
    'there is no KVM.',
    '',
    '| build | kernel image | init | initramfs | kernel + initramfs | raw disk |',
    '|---|---:|---:|---:|---:|---:|',
    sizeRows(`amd64 (bzImage, Linux ${amd64Build.manifest.kernel.release})`, amd64Build.manifest),
    sizeRows(`arm64 (Image, not compressed, Linux ${arm64Build.manifest.kernel.release})`, arm64Build.manifest),
    '',
    `QEMU start → the program's first line, seconds, median (min–max) of ${runs} boots each, interleaved:`,
    '',
    '| boot path | first line |',
    '|---|---:|',
    ...firstLines.map(([label, ms]) => `| ${label} | ${cell(ms)} |`),
    '',
  ];
}
