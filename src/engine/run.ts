import { PassThrough, type Readable } from 'node:stream';
import { Gopid1Error, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { within } from '../timeout.js';
import { engineError, labelsFor, type DockerSession } from './connect.js';

export interface ProgramRunOptions {
  image: string;
  /** Role label of the container, e.g. "parity". */
  role: string;
  /** Arguments after the image's entrypoint. */
  cmd: string[];
  network: 'none' | 'bridge';
  /** Stop it (SIGKILL) when it runs longer than this. */
  timeoutMs: number;
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

export interface ProgramRun {
  /** The program's exit status; absent when it was stopped at the timeout. */
  exitCode?: number;
  durationMs: number;
}

/**
 * Runs an image as plain `docker run --rm` does (the engine's default capabilities and user, no hardening of
 * gopid1's own steps): what a user's container gets, for comparing with the machine. Output lines as they come;
 * the container is always removed.
 */
export async function runProgram(session: DockerSession, options: ProgramRunOptions): Promise<ProgramRun> {
  if (options.signal?.aborted) throw interrupted(options.role);
  const started = Date.now();
  let container;
  try {
    container = await session.docker.createContainer({ Image: options.image, Cmd: options.cmd, Labels: labelsFor(session, options.role), Tty: false, HostConfig: { NetworkMode: options.network } });
  } catch (error) {
    throw engineError(`cannot create a container of ${options.image}`, error);
  }
  try {
    const attached = (await container.attach({ stream: true, stdout: true, stderr: true })) as unknown as Readable;
    const drained = new Promise<void>((resolve) => {
      attached.on('end', resolve);
      attached.on('close', resolve);
    });
    const output = new PassThrough();
    const splitter = new LineSplitter(options.onLine);
    output.on('data', (chunk: Buffer) => splitter.push(chunk));
    session.docker.modem.demuxStream(attached, output, output);
    await container.start();
    const ended = container.wait().then(
      (result: { StatusCode?: number }) => result.StatusCode ?? -1,
      () => -1,
    );
    const aborted = new Promise<'aborted'>((resolve) => options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true }));
    const how = await within(Promise.race([ended, aborted]), options.timeoutMs, () => 'timeout' as const);
    if (how === 'aborted') throw interrupted(options.role);
    // The last output may still be in flight when the engine reports the end.
    await within(drained, 5_000, () => undefined);
    splitter.end();
    return { ...(typeof how === 'number' ? { exitCode: how } : {}), durationMs: Date.now() - started };
  } catch (error) {
    if (error instanceof Gopid1Error) throw error;
    throw engineError(`running a container of ${options.image}`, error);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
