import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hashKey } from '../artifacts/cache.js';
import { sha256 } from '../artifacts/files.js';
import { describeError } from '../errors.js';
import path from 'node:path';
import { type BuilderImage, packFiles } from '../engine/engine.js';
import { compressorCommand, gzip9, SUFFIX, type Compressor } from '../initramfs/compress.js';
import type { InitramfsCompression } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';

/**
 * The initramfs compressor of a build: gzip in-process, xz and zstd in the Go builder (no network), which carries
 * xz-utils and zstd, so the compressor's version is pinned with the toolchain's. With `useCache`, what the builder
 * compressed is kept by the cpio's hash, the compression and the builder, so the same cpio again starts no container.
 */
export function builderCompressor(context: StageContext, builder: BuilderImage, compression: InitramfsCompression, useCache = false): Compressor {
  if (compression === 'gzip') return async (cpio) => gzip9(cpio);
  const compress = inBuilder(context, builder, compression);
  if (!useCache) return compress;
  return async (cpio) => {
    const key = hashKey({ v: 1, cpio: sha256(cpio), compression, builder: builder.tag, packages: sha256(builder.packages.join('\n')) });
    const hit = await context.cache.get<Record<string, never>>('initramfs', key);
    const cached = hit?.files.compressed;
    if (cached) return readFile(cached);
    const compressed = await compress(cpio);
    await storeCompressed(context, key, compressed);
    return compressed;
  };
}

/** Keeps a compressed initramfs; a cache that cannot take it only costs the next build. */
async function storeCompressed(context: StageContext, key: string, compressed: Buffer): Promise<void> {
  const scratch = await mkdtemp(path.join(context.out.staging, 'initramfs-cache-'));
  try {
    await writeFile(path.join(scratch, 'compressed'), compressed);
    await context.cache.put('initramfs', key, { compressed: path.join(scratch, 'compressed') }, {});
  } catch (error) {
    context.report({ kind: 'warning', stage: 'initramfs', text: `could not store the initramfs in the cache ${context.cache.root}: ${describeError(error)}` });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** xz or zstd in the Go builder: the cpio in, the compressed file out, on a read-only root. */
function inBuilder(context: StageContext, builder: BuilderImage, compression: Exclude<InitramfsCompression, 'gzip'>): Compressor {
  return async (cpio) => {
    const scratch = await mkdtemp(path.join(context.out.staging, 'initramfs-'));
    try {
      await context.engine.runStep({
        role: 'initramfs-compress',
        title: `initramfs: ${compression}`,
        image: builder.id,
        cmd: [
          'sh',
          '-c',
          // The same sandbox line as every step script prints (dockerfiles/*/*-step.sh): user, network, privileges.
          'echo "gopid1: sandbox: user $(id -un) (uid $(id -u)), network interfaces: $(echo $(ls /sys/class/net)), ' +
          'capabilities $(sed -n \'s/^CapBnd:[[:space:]]*//p\' /proc/self/status), no_new_privs $(sed -n \'s/^NoNewPrivs:[[:space:]]*//p\' /proc/self/status), ' +
            'root $(awk \'$5 == "/" { split($6, o, ","); print o[1]; exit }\' /proc/self/mountinfo)" && ' +
            `mkdir -p /tmp/out && ${compressorCommand(compression).join(' ')} < /tmp/in/initramfs.cpio > /tmp/out/initramfs.cpio${SUFFIX[compression]}`,
        ],
        limits: context.limits,
        // Read-only but for /tmp, where the cpio goes in and the compressed one comes out.
        writable: ['/tmp'],
        inputs: [{ path: '/tmp', archive: () => packFiles([{ name: 'in/initramfs.cpio', data: cpio }]) }],
        outputs: [{ path: '/tmp/out', dest: scratch }],
        logFile: path.join(context.out.logs, 'initramfs.log'),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      return await readFile(path.join(scratch, 'out', `initramfs.cpio${SUFFIX[compression]}`));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  };
}
