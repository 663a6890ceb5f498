import { gzipSync } from 'node:zlib';
import type { InitramfsCompression } from '../plan/vocabulary.js';

/** Compresses a newc archive: handed to writeInitramfs by the build (xz and zstd run in a builder container). */
export type Compressor = (cpio: Buffer) => Promise<Buffer>;

export const SUFFIX: Record<InitramfsCompression, string> = { zstd: '.zst', xz: '.xz', gzip: '.gz' };

/** initramfs.cpio.zst, .xz or .gz. */
export function initramfsFileName(compression: InitramfsCompression): string {
  return `initramfs.cpio${SUFFIX[compression]}`;
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

/** gzip level 9 with no file name and no time in the header: the same bytes every time. */
export function gzip9(cpio: Buffer): Buffer {
  return gzipSync(cpio, { level: 9 });
}

