import { Writable, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { Gopid1Error, errnoIn, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { openLog } from '../logs.js';
import { within, withTimeout } from '../timeout.js';
import { extractArchive } from './archive.js';
import { commandLine, stepFailure } from './step-failure.js';
import { STEP_HARDENING, type StepOptions, type StepResult } from './step-options.js';
import { connectionLost, engineError, engineLost, labelsFor, type DockerSession } from './connect.js';
import { CACHE_LABEL } from './labels.js';

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

/** The container's configuration for a step: labelled, hardened, no network unless asked, limits as given. */
function containerSpec(session: DockerSession, options: StepOptions): Docker.ContainerCreateOptions {
  const labels = labelsFor(session, options.role);
  return {
    Image: options.image,
    Cmd: options.cmd,
    Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    Labels: labels,
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
      ...(options.capabilities?.length ? { CapAdd: [...options.capabilities] } : {}),
      ...(options.writable ? readOnlyRoot(options.writable, labels) : {}),
      ...(options.limits?.cpus !== undefined ? { NanoCpus: Math.round(options.limits.cpus * 1e9) } : {}),
      // No swap beyond the limit: a step that needs more fails with 137 instead of thrashing.
      ...(options.limits?.memoryBytes !== undefined ? { Memory: options.limits.memoryBytes, MemorySwap: options.limits.memoryBytes } : {}),
    },
  };
}

/** One step's run: its container once created, whether it was aborted, and how its failures read. */
class StepRun {
  container: Docker.Container | undefined;
  aborted = false;
  readonly started = Date.now();

  constructor(
    readonly session: DockerSession,
    readonly options: StepOptions,
  ) {}

  readonly onAbort = (): void => {
    this.aborted = true;
    this.container?.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  };

  /** An abort wins over whatever failed because of it; else the engine answered when the run began, so a connection that fails now means it went away mid-step. */
  failed(doing: string, error: unknown): Gopid1Error {
    if (this.aborted) return interrupted(this.options.title);
    return connectionLost(error) ? engineLost(this.options.title, error) : engineError(`${this.options.title}: ${doing}`, error);
  }

  throwIfAborted(): void {
    if (this.aborted || this.options.signal?.aborted) throw interrupted(this.options.title);
  }
}

async function copyInputs(run: StepRun, container: Docker.Container): Promise<void> {
  for (const input of run.options.inputs ?? []) {
    try {
      await container.putArchive(input.archive(), { path: input.path });
    } catch (error) {
      throw run.failed(`cannot copy inputs to ${input.path} in the container`, error);
    }
  }
}

/** Attaches to the container's output (lines to `onLine`) and starts it; resolves to when the output ends. */
async function attachAndStart(run: StepRun, container: Docker.Container, stdout: LineSplitter, stderr: LineSplitter): Promise<{ outputEnded: Promise<void> }> {
  try {
    const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    run.session.docker.modem.demuxStream(stream, lineWriter(stdout), lineWriter(stderr));
    await container.start();
    return { outputEnded: ended };
  } catch (error) {
    throw run.failed('cannot start the builder container', error);
  }
}

async function copyOutputs(run: StepRun, container: Docker.Container): Promise<void> {
  for (const output of run.options.outputs ?? []) {
    try {
      const archive = (await container.getArchive({ path: output.path })) as Readable;
      await extractArchive(archive, output.dest, `${output.path} from ${run.options.title}`);
    } catch (error) {
      // A full disk here is the host's, not the engine's: whoever knows the out dir says so (see noSpaceError).
      if (error instanceof Gopid1Error || errnoIn(error, 'ENOSPC')) throw error;
      throw run.failed(`cannot copy ${output.path} out of the container`, error);
    }
  }
}

/** Starts the created container and waits for its exit, its output to `onLine`; returns the exit code. */
async function execute(run: StepRun, container: Docker.Container, onLine: (line: string) => void): Promise<number> {
  const stdout = new LineSplitter(onLine);
  const stderr = new LineSplitter(onLine);
  const { outputEnded } = await attachAndStart(run, container, stdout, stderr);
  // An abort during start() may have tried to kill a container that was not running yet.
  if (run.aborted) await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  let exitCode: number;
  try {
    exitCode = await exitCodeOf(container, outputEnded);
  } catch (error) {
    throw run.failed('lost the builder container', error);
  }
  // The attach stream can trail the exit by a moment; do not wait forever for it.
  await within(outputEnded, 2000, () => undefined);
  stdout.end();
  stderr.end();
  return exitCode;
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
  const run = new StepRun(session, options);
  try {
    try {
      run.container = await session.docker.createContainer(containerSpec(session, options));
    } catch (error) {
      throw run.failed('cannot create the builder container', error);
    }
    signal?.addEventListener('abort', run.onAbort, { once: true });
    run.throwIfAborted();
    await copyInputs(run, run.container);
    // An abort while the inputs were copied found nothing to kill yet: do not start.
    run.throwIfAborted();
    const exitCode = await execute(run, run.container, onLine);
    run.throwIfAborted();
    log.line(`# exit code ${exitCode} after ${((Date.now() - run.started) / 1000).toFixed(1)} s`);
    if (exitCode !== 0) throw stepFailure(options, exitCode, log.tail());
    await copyOutputs(run, run.container);
    return { exitCode, durationMs: Date.now() - run.started };
  } finally {
    signal?.removeEventListener('abort', run.onAbort);
    if (run.container) await run.container.remove({ force: true, v: true }).catch(() => undefined);
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
