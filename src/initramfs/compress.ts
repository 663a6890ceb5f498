import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { packFiles } from '../engine/archive.js';
import type { Engine } from '../engine/connect.js';
import type { BuilderImage } from '../engine/images.js';
import { runStep, type StepLimits } from '../engine/run.js';

/**
 * How the initramfs is compressed. zstd (default) is about 12% smaller than gzip and about as quick to unpack
 * under QEMU's software emulation; xz is the smallest and the slowest to unpack. Measured in docs/PERFORMANCE.md.
 */
export type InitramfsCompression = 'zstd' | 'xz' | 'gzip';
export const INITRAMFS_COMPRESSIONS: readonly InitramfsCompression[] = ['zstd', 'xz', 'gzip'];
export const DEFAULT_INITRAMFS_COMPRESSION: InitramfsCompression = 'zstd';

const SUFFIX: Record<InitramfsCompression, string> = { zstd: '.zst', xz: '.xz', gzip: '.gz' };

/** initramfs.cpio.zst, .xz or .gz. */
export function initramfsFileName(compression: InitramfsCompression): string {
  return `initramfs.cpio${SUFFIX[compression]}`;
}

/** The kernel option that unpacks this compression. */
export function rdOption(compression: InitramfsCompression): string {
  return `RD_${compression.toUpperCase()}`;
}

/**
 * The compressor run in the Go builder, reading stdin and writing stdout. Single-threaded, so the bytes do
 * not depend on the machine's core count. xz: CRC32 (the kernel's decoder knows no CRC64), the x86 BCJ filter
 * (the kernel decodes it; Go binaries shrink by about 4% more) and a 1 MiB dictionary, as the kernel's own
 * usr/Makefile uses. zstd: level 19 with its checksum, which the kernel verifies.
 */
export function compressorCommand(compression: 'zstd' | 'xz'): string[] {
  return compression === 'xz'
    ? ['xz', '--threads=1', '--check=crc32', '--x86', '--lzma2=preset=9e,dict=1MiB', '--stdout']
    : ['zstd', '--threads=1', '-19', '--quiet', '--no-progress', '--stdout'];
}

/** How the manifest describes the compressor. */
export function compressorDescription(compression: InitramfsCompression): string {
  if (compression === 'gzip') return 'zlib deflate level 9 (gzip, no name, no time)';
  return compressorCommand(compression).join(' ');
}

export interface CompressOptions {
  compression: InitramfsCompression;
  /** The Go builder: it carries xz-utils and zstd, so the compressor's version is pinned with the toolchain's. */
  builder: BuilderImage;
  /** Scratch space for the compressor's output. */
  workDir: string;
  logFile: string;
  limits?: StepLimits;
  signal?: AbortSignal;
}

/** gzip level 9 with no file name and no time in the header: the same bytes every time. */
export function gzip9(cpio: Buffer): Buffer {
  return gzipSync(cpio, { level: 9 });
}

/** Compresses a newc archive the way `compression` says: gzip in-process, xz and zstd in the Go builder (no network). */
export async function compressInitramfs(engine: Engine, cpio: Buffer, options: CompressOptions): Promise<Buffer> {
  const { compression } = options;
  if (compression === 'gzip') return gzip9(cpio);
  const scratch = await mkdtemp(path.join(options.workDir, 'initramfs-'));
  try {
    const command = compressorCommand(compression).join(' ');
    await runStep(engine, {
      role: 'initramfs-compress',
      title: `initramfs: ${compression}`,
      image: options.builder.id,
      cmd: [
        'sh',
        '-c',
        // The same account of user and network as the other builder steps print.
        'echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net))" && ' +
          `mkdir -p /tmp/out && ${command} < /tmp/in/initramfs.cpio > /tmp/out/initramfs.cpio${SUFFIX[compression]}`,
      ],
      ...(options.limits ? { limits: options.limits } : {}),
      inputs: [{ path: '/tmp', archive: () => packFiles([{ name: 'in/initramfs.cpio', data: cpio }]) }],
      outputs: [{ path: '/tmp/out', dest: scratch }],
      logFile: options.logFile,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return await readFile(path.join(scratch, 'out', `initramfs.cpio${SUFFIX[compression]}`));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
