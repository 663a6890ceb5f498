import { performance } from 'node:perf_hooks';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Gopid1Error, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { within } from '../timeout.js';
import { engineError, labelsFor, type DockerSession } from './connect.js';

export interface FirstOutputOptions {
  image: string;
  /** Role label of the container, e.g. "compare-scratch". */
  role: string;
  network: 'none' | 'bridge';
  /** Keep the program running this long after its first output, sampling its memory. */
  windowMs: number;
  /** Give up when nothing is printed within this. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface FirstOutputRun {
  /** From the create request (what `docker run` starts with) to the first byte the program wrote. */
  firstOutputMs: number;
  firstLine: string;
  /** Peak over the engine's stats samples of usage − inactive file cache (what `docker stats` shows); undefined without a sample. */
  peakMemoryBytes: number | undefined;
  memorySamples: number;
}

interface MemoryStats {
  usage?: number;
  max_usage?: number;
  stats?: { inactive_file?: number; total_inactive_file?: number };
}

/** The memory a stats sample shows a container using, the way the docker CLI computes it (cgroup v1 and v2). */
export function memoryInUse(stats: MemoryStats | undefined): number | undefined {
  if (!stats || typeof stats.usage !== 'number' || stats.usage === 0) return undefined;
  const cache = stats.stats?.inactive_file ?? stats.stats?.total_inactive_file ?? 0;
  return Math.max(0, stats.usage - (cache < stats.usage ? cache : 0));
}

/**
 * Runs an image the way `docker run` does and times it to the program's first output; then lets it run for
 * `windowMs` while the engine's stats stream samples its memory, and removes the container.
 */
export async function runToFirstOutput(session: DockerSession, options: FirstOutputOptions): Promise<FirstOutputRun> {
  if (options.signal?.aborted) throw interrupted(options.role);
  const started = performance.now();
  let container;
  try {
    container = await session.docker.createContainer({
      Image: options.image,
      Labels: labelsFor(session, options.role),
      Tty: false,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { NetworkMode: options.network },
    });
  } catch (error) {
    throw engineError(`cannot create a container of ${options.image}`, error);
  }
  let statsStream: Readable | undefined;
  try {
    const attached = (await container.attach({ stream: true, stdout: true, stderr: true })) as unknown as Readable;
    let firstOutputAt: number | undefined;
    let firstLine = '';
    let resolveFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (resolveFirst = resolve));
    const output = new PassThrough();
    const splitter = new LineSplitter((line) => {
      if (firstLine === '' && line.trim() !== '') firstLine = line;
    });
    output.on('data', (chunk: Buffer) => {
      firstOutputAt ??= performance.now();
      splitter.push(chunk);
      resolveFirst();
    });
    session.docker.modem.demuxStream(attached, output, output);

    await container.start();
    let peak: number | undefined;
    let samples = 0;
    statsStream = (await container.stats({ stream: true })) as unknown as Readable;
    const statsLines = new LineSplitter((line) => {
      try {
        const used = memoryInUse((JSON.parse(line) as { memory_stats?: MemoryStats }).memory_stats);
        if (used !== undefined) {
          samples += 1;
          peak = Math.max(peak ?? 0, used);
        }
      } catch {
        // a partial or empty sample
      }
    });
    statsStream.on('data', (chunk: Buffer) => statsLines.push(chunk));
    statsStream.on('error', () => undefined);

    // Removing the container at the end settles a pending wait either way; it must never become an unhandled rejection.
    const ended = container.wait().then(
      () => 'ended' as const,
      () => 'ended' as const,
    );
    const aborted = new Promise<'aborted'>((resolve) => options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const how = await within(Promise.race([first.then(() => 'output' as const), ended, aborted]), options.timeoutMs, () => 'timeout' as const);
    if (how === 'aborted') throw interrupted(options.role);
    if (firstOutputAt === undefined) {
      throw new Gopid1Error('COMPARE_FAILED', how === 'ended' ? `a container of ${options.image} ended without printing anything` : `a container of ${options.image} printed nothing within ${options.timeoutMs / 1000} s`, {
        step: options.role,
        hint: 'gopid1 compare times the program to its first line of output: the program must print something when it starts.',
      });
    }
    // Keep it running for the memory window (a program that ends sooner just ends it early).
    await within(Promise.race([ended, aborted]), options.windowMs, () => undefined);
    if (options.signal?.aborted) throw interrupted(options.role);
    splitter.end();
    return { firstOutputMs: firstOutputAt - started, firstLine, peakMemoryBytes: peak, memorySamples: samples };
  } catch (error) {
    if (error instanceof Gopid1Error) throw error;
    throw engineError(`running a container of ${options.image}`, error);
  } finally {
    statsStream?.destroy();
    await container.remove({ force: true }).catch(() => undefined);
  }
}

export interface ImageSizes {
  /** What the engine reports (`docker images`): the unpacked size of all layers. */
  bytes: number;
  /** The `docker save` tar, as it would be shipped: uncompressed and gzip -6. */
  savedBytes: number;
  savedGzipBytes: number;
}

/**
 * Measures an image: the engine's figure, and its `docker save` stream counted as it passes through gzip (half a
 * minute for a toolchain image on two cores: an abort hangs up at once).
 */
export async function imageSizes(session: DockerSession, ref: string, signal?: AbortSignal): Promise<ImageSizes> {
  const what = `measuring image ${ref}`;
  if (signal?.aborted) throw interrupted(what);
  try {
    const info = await session.docker.getImage(ref).inspect();
    const saved = (await session.docker.getImage(ref).get()) as unknown as Readable;
    let savedBytes = 0;
    let savedGzipBytes = 0;
    const gzip = createGzip({ level: 6 });
    gzip.on('data', (chunk: Buffer) => (savedGzipBytes += chunk.length));
    saved.on('data', (chunk: Buffer) => (savedBytes += chunk.length));
    await pipeline(saved, gzip, { signal });
    return { bytes: info.Size, savedBytes, savedGzipBytes };
  } catch (error) {
    if (signal?.aborted) throw interrupted(what);
    throw engineError(`cannot measure image ${ref}`, error);
  }
}

