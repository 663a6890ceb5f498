import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { type BuilderImage, packFiles } from '../engine/engine.js';
import { compressorCommand, gzip9, SUFFIX, type Compressor } from '../initramfs/compress.js';
import type { InitramfsCompression } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';

/**
 * The initramfs compressor of a build: gzip in-process, xz and zstd in the Go builder (no network), which carries
 * xz-utils and zstd, so the compressor's version is pinned with the toolchain's.
 */
export function builderCompressor(context: StageContext, builder: BuilderImage, compression: InitramfsCompression): Compressor {
  if (compression === 'gzip') return async (cpio) => gzip9(cpio);
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
