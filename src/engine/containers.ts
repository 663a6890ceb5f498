import { performance } from 'node:perf_hooks';
import { PassThrough, type Readable } from 'node:stream';
import { Gopid1Error, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { engineError, labelsFor, type Engine } from './connect.js';

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
export async function runToFirstOutput(engine: Engine, options: FirstOutputOptions): Promise<FirstOutputRun> {
  if (options.signal?.aborted) throw interrupted(options.role);
  const started = performance.now();
  let container;
  try {
    container = await engine.docker.createContainer({
      Image: options.image,
      Labels: labelsFor(engine, options.role),
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
    engine.docker.modem.demuxStream(attached, output, output);

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
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));
    const aborted = new Promise<'aborted'>((resolve) => options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const how = await Promise.race([first.then(() => 'output' as const), ended, timeout, aborted]);
    clearTimeout(timer);
    if (how === 'aborted') throw interrupted(options.role);
    if (firstOutputAt === undefined) {
      throw new Gopid1Error('COMPARE_FAILED', how === 'ended' ? `a container of ${options.image} ended without printing anything` : `a container of ${options.image} printed nothing within ${options.timeoutMs / 1000} s`, {
        step: options.role,
        hint: 'gopid1 compare times the program to its first line of output: the program must print something when it starts.',
      });
    }
    // Keep it running for the memory window (a program that ends sooner just ends it early).
    await Promise.race([new Promise((resolve) => setTimeout(resolve, options.windowMs)), ended, aborted]);
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
