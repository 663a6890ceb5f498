import { Writable, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { Gopid1Error, errnoIn, interrupted, withHint } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { openLog } from '../logs.js';
import { within, withTimeout } from '../timeout.js';
import { extractArchive } from './archive.js';
import { connectionLost, engineError, engineLost, labelsFor, type DockerSession } from './connect.js';
import { CACHE_LABEL } from './labels.js';

/**
 * What every builder step runs without: capabilities (the steps run as the images' unprivileged user and need
 * none), gaining privileges through setuid files, and more processes than a parallel kernel compile makes. A step
 * that says which paths it writes (`writable`) also runs on a read-only root filesystem: the engine's archive API
 * copies inputs into those paths' volumes, which a read-only root allows.
 */
export const STEP_HARDENING = { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], PidsLimit: 4096 } as const;

export interface StepInput {
  /** Directory inside the container the archive is unpacked into (must exist in the image or a mount). */
  path: string;
  archive: () => Readable;
}

export interface StepOutput {
  /** File or directory inside the container. */
  path: string;
  /** Host directory it is extracted into (the basename of `path` is kept). */
  dest: string;
}

/** Resources a builder container may use (docker run --cpus, --memory). */
export interface StepLimits {
  cpus?: number;
  memoryBytes?: number;
}

export interface StepOptions {
  /** Short machine name, also the role label: "kernel-compile". */
  role: string;
  /** What a human calls it, for progress and errors: "kernel: compile". */
  title: string;
  image: string;
  cmd: string[];
  env?: Record<string, string>;
  /**
   * The paths the step writes. Given, the container's root filesystem is read-only: each of these is an anonymous
   * volume (seeded from the image, labelled, removed with the container) and /tmp, unless listed, a tmpfs. Inputs
   * and outputs must lie in them.
   */
  writable?: string[];
  /** Named volumes: volume name → mount point. */
  volumes?: Record<string, string>;
  /** Named volumes mounted read-only: volume name → mount point. */
  readOnlyVolumes?: Record<string, string>;
  /** "none" (default) for steps that only compile; "bridge" for steps that fetch. */
  network?: 'none' | 'bridge';
  workingDir?: string;
  limits?: StepLimits;
  inputs?: StepInput[];
  outputs?: StepOutput[];
  /** Every output line is appended here; the directory is created. */
  logFile: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** Turns a non-zero exit into the caller's own error; default: STEP_FAILED. */
  onFailure?: (exitCode: number, tail: string[]) => Gopid1Error;
}

export interface StepResult {
  exitCode: number;
  durationMs: number;
}

function commandLine(cmd: string[]): string {
  return cmd.map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Builders say this when a write failed because the engine's storage (its data root) is full. */
const NO_SPACE_LINE = /no space left on device/i;

/**
 * The error for a step that exited non-zero: the caller's own (`onFailure`) or STEP_FAILED, with the log tail
 * and a hint; when the tail says a write found no space, the hint says the Docker engine's storage is full
 * instead, whatever the step.
 */
export function stepFailure(
  options: Pick<StepOptions, 'title' | 'cmd' | 'logFile' | 'limits' | 'onFailure'>,
  exitCode: number,
  tail: string[],
): Gopid1Error {
  const error =
    options.onFailure?.(exitCode, tail) ??
    new Gopid1Error('STEP_FAILED', `${options.title} failed with exit code ${exitCode}`, {
      step: options.title,
      command: commandLine(options.cmd),
      exitCode,
      logTail: tail,
      logFile: options.logFile,
      hint:
        exitCode === 137
          ? `The builder container was killed (out of memory${options.limits?.memoryBytes !== undefined ? ` within --memory-limit ${Math.round(options.limits.memoryBytes / 2 ** 20)} MiB` : ''}, or stopped from outside). Raise --memory-limit, free memory or lower --jobs, and run again.`
          : `Read the log tail above (full log: ${options.logFile}); fix the cause and run again.`,
    });
  if (!tail.some((line) => NO_SPACE_LINE.test(line))) return error;
  return withHint(
    error,
    'The Docker engine\'s storage is full: the builder wrote into its container or a volume, which live in the engine\'s data root (e.g. /var/lib/docker), ' +
      'and found no space. See what uses it with `docker system df`; free it with `gopid1 clean --images` (builder images are rebuilt when needed), ' +
      '`gopid1 clean --cache` or `docker system prune`, or give the engine a bigger disk; then run again.',
  );
}

/** How often, once the container's output has ended without its exit, the engine is asked about it. */
const EXIT_POLL_MS = 2000;
const INSPECT_TIMEOUT_MS = 10_000;

/**
 * The container's exit code. `wait` is one long request, and dockerode never settles it when the connection
 * drops under it (the engine stopped, restarted or crashed): Node would then run out of work and end the run
 * as if it had succeeded. So once the output stream has ended (with the container, or with the connection),
 * the container is inspected every 2 s until it has exited; an engine that cannot be reached fails that.
 */
async function exitCodeOf(container: Docker.Container, outputEnded: Promise<void>): Promise<number> {
  const waited = container.wait().then(
    (status) => ({ exitCode: (status as { StatusCode: number }).StatusCode }),
    (error: unknown) => ({ error }),
  );
  await Promise.race([waited, outputEnded]);
  for (;;) {
    const settled = await within(waited, EXIT_POLL_MS, () => undefined);
    if (settled && 'error' in settled) throw settled.error;
    if (settled) return settled.exitCode;
    const { State: state } = await withTimeout(container.inspect(), INSPECT_TIMEOUT_MS, 'the engine did not answer');
    if (!state.Running && !state.Restarting) return state.ExitCode;
  }
}

function lineWriter(splitter: LineSplitter): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      splitter.push(chunk);
      callback();
    },
  });
}

/** A read-only root filesystem with `writable` as anonymous volumes (copied from the image) and /tmp a tmpfs. */
function readOnlyRoot(writable: string[], labels: Record<string, string>): Docker.HostConfig {
  return {
    ReadonlyRootfs: true,
    Mounts: writable.map((target) => ({ Type: 'volume' as const, Source: '', Target: target, VolumeOptions: { NoCopy: false, Labels: labels, DriverConfig: { Name: 'local', Options: {} } } })),
    ...(writable.includes('/tmp') ? {} : { Tmpfs: { '/tmp': 'rw,nosuid,nodev,mode=1777' } }),
  };
}

/**
 * Runs one build step in a fresh container labelled `gopid1=<run id>` and `gopid1.role=<role>`: puts the
 * inputs in, streams output lines to `onLine` and the log file, waits for the exit code, takes the outputs
 * out, and removes the container whatever happens (success, failure, abort).
 */
export async function runStep(session: DockerSession, options: StepOptions): Promise<StepResult> {
  const { signal } = options;
  if (signal?.aborted) throw interrupted(options.title);
  const log = await openLog(options.logFile, { append: true });
  log.line(`$ ${commandLine(options.cmd)}`);
  const onLine = (line: string): void => {
    log.line(line);
    options.onLine?.(line);
  };
  const started = Date.now();
  let container: Docker.Container | undefined;
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    container?.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  };
  // The engine answered when the run began: a connection that fails now means it went away mid-step.
  const failed = (doing: string, error: unknown): Gopid1Error =>
    connectionLost(error) ? engineLost(options.title, error) : engineError(`${options.title}: ${doing}`, error);
  try {
    try {
      container = await session.docker.createContainer({
        Image: options.image,
        Cmd: options.cmd,
        Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
        Labels: labelsFor(session, options.role),
        WorkingDir: options.workingDir,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        HostConfig: {
          NetworkMode: options.network ?? 'none',
          Binds: [
            ...Object.entries(options.volumes ?? {}).map(([volume, target]) => `${volume}:${target}`),
            ...Object.entries(options.readOnlyVolumes ?? {}).map(([volume, target]) => `${volume}:${target}:ro`),
          ],
          Init: true,
          ...STEP_HARDENING,
          ...(options.writable ? readOnlyRoot(options.writable, labelsFor(session, options.role)) : {}),
          ...(options.limits?.cpus !== undefined ? { NanoCpus: Math.round(options.limits.cpus * 1e9) } : {}),
          // No swap beyond the limit: a step that needs more fails with 137 instead of thrashing.
          ...(options.limits?.memoryBytes !== undefined ? { Memory: options.limits.memoryBytes, MemorySwap: options.limits.memoryBytes } : {}),
        },
      });
    } catch (error) {
      throw failed('cannot create the builder container', error);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) throw interrupted(options.title);

    for (const input of options.inputs ?? []) {
      try {
        await container.putArchive(input.archive(), { path: input.path });
      } catch (error) {
        if (aborted) throw interrupted(options.title);
        throw failed(`cannot copy inputs to ${input.path} in the container`, error);
      }
    }
    // An abort while the inputs were copied found nothing to kill yet: do not start.
    if (aborted) throw interrupted(options.title);

    const stdout = new LineSplitter(onLine);
    const stderr = new LineSplitter(onLine);
    let streamDone: Promise<void>;
    try {
      const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
      streamDone = new Promise<void>((resolve) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', () => resolve());
      });
      session.docker.modem.demuxStream(stream, lineWriter(stdout), lineWriter(stderr));
      await container.start();
    } catch (error) {
      if (aborted) throw interrupted(options.title);
      throw failed('cannot start the builder container', error);
    }
    // An abort during start() may have tried to kill a container that was not running yet.
    if (aborted) await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
    let exitCode: number;
    try {
      exitCode = await exitCodeOf(container, streamDone);
    } catch (error) {
      if (aborted) throw interrupted(options.title);
      throw failed('lost the builder container', error);
    }
    // The attach stream can trail the exit by a moment; do not wait forever for it.
    await within(streamDone, 2000, () => undefined);
    stdout.end();
    stderr.end();
    if (aborted || signal?.aborted) throw interrupted(options.title);
    log.line(`# exit code ${exitCode} after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    if (exitCode !== 0) throw stepFailure(options, exitCode, log.tail());

    for (const output of options.outputs ?? []) {
      try {
        const archive = (await container.getArchive({ path: output.path })) as Readable;
        await extractArchive(archive, output.dest, `${output.path} from ${options.title}`);
      } catch (error) {
        // A full disk here is the host's, not the engine's: whoever knows the out dir says so (see noSpaceError).
        if (error instanceof Gopid1Error || errnoIn(error, 'ENOSPC')) throw error;
        throw failed(`cannot copy ${output.path} out of the container`, error);
      }
    }
    return { exitCode, durationMs: Date.now() - started };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (container) await container.remove({ force: true, v: true }).catch(() => undefined);
    await log.close();
  }
}

/** A volume of one run. */
export interface RunVolume {
  name: string;
  /** Removes it (a volume already gone is fine). */
  dispose: () => Promise<void>;
}

/** A named volume labelled for this run; `dispose` removes it. */
export async function createVolume(session: DockerSession, role: string): Promise<RunVolume> {
  const name = `gopid1-${role}-${session.runId}`;
  try {
    await session.docker.createVolume({ Name: name, Labels: labelsFor(session, role) });
  } catch (error) {
    throw engineError(`cannot create volume ${name}`, error);
  }
  return {
    name,
    dispose: async () => {
      await session.docker.getVolume(name).remove().catch(() => undefined);
    },
  };
}

/**
 * A volume that outlives runs (e.g. the Go module and build cache), created on first use; the volumes it
 * `replaces` (an older layout of the same cache) are removed then, as far as no container still uses them.
 */
export async function ensureVolume(session: DockerSession, name: string, role: string, options: { replaces?: string[] } = {}): Promise<string> {
  try {
    await session.docker.getVolume(name).inspect();
  } catch {
    try {
      await session.docker.createVolume({ Name: name, Labels: { [CACHE_LABEL]: role } });
    } catch (error) {
      throw engineError(`cannot create volume ${name}`, error);
    }
    for (const old of options.replaces ?? []) await session.docker.getVolume(old).remove().catch(() => undefined);
  }
  return name;
}
