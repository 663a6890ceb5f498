import type { Readable } from 'node:stream';
import { Gopid1Error, describeError, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { openLog, type LogSink } from '../logs.js';
import { engineError, type DockerSession } from './connect.js';

export interface ImageProgress {
  onLine?: (line: string) => void;
  /** Build and bootstrap output is appended here. */
  logFile: string;
  signal?: AbortSignal;
}

/** One entry of the engine's build, pull or import stream. */
interface StreamEntry {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** The engine's id of image `ref`, or undefined when there is none. */
export async function imageId(session: DockerSession, ref: string): Promise<string | undefined> {
  try {
    const info = await session.docker.getImage(ref).inspect();
    return info.Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw engineError(`cannot inspect image ${ref}`, error);
  }
}

export /**
 * Reads a Docker progress stream (build, pull, import) to its end; rejects on its first error entry. An abort
 * hangs up on the engine, which cancels the build or pull, and is reported as an interruption of `what`.
 */
async function followProgress(session: DockerSession, stream: NodeJS.ReadableStream, onLine: (line: string) => void, what: string, signal?: AbortSignal): Promise<string | undefined> {
  const splitter = new LineSplitter(onLine);
  let failure: string | undefined;
  let lastStatus = '';
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      (stream as Readable).destroy?.();
      reject(interrupted(what));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    session.docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      },
      (event: StreamEntry) => {
        if (event.stream !== undefined) splitter.push(event.stream);
        if (event.status !== undefined) {
          const text = `${event.id ? `${event.id}: ` : ''}${event.status}`;
          if (text !== lastStatus) onLine(text);
          lastStatus = text;
        }
        if (event.error !== undefined || event.errorDetail?.message !== undefined) {
          failure ??= event.errorDetail?.message ?? event.error;
        }
      },
    );
  });
  splitter.end();
  return failure;
}

export function openImageLog(progress: ImageProgress): Promise<LogSink> {
  return openLog(progress.logFile, { append: true, tailSize: 30, ...(progress.onLine ? { onLine: progress.onLine } : {}) });
}

export interface ImageBuild {
  /** The build context: a tar holding the Dockerfile. */
  context: () => Readable;
  tag: string;
  /** For messages: "the kernel builder image". */
  what: string;
  /** Where the context comes from, for the log. */
  from: string;
  buildArgs?: Record<string, string>;
  /** The image's platform, e.g. linux/arm64 (default: the engine's own). */
  platform?: string;
  labels: Record<string, string>;
  /** Added to the error's hint when the build fails. */
  hint: string;
  progress: ImageProgress;
}

/**
 * Builds an image through the engine's build API (intermediate containers always removed) and returns its id.
 * The build stream is logged and shown; its first error entry fails the build with that line.
 */
export async function buildImage(session: DockerSession, build: ImageBuild): Promise<string> {
  const { progress } = build;
  const log = await openImageLog(progress);
  try {
    log.line(`building ${build.tag} from ${build.from}`);
    let failure: string | undefined;
    try {
      const stream = await session.docker.buildImage(build.context() as unknown as NodeJS.ReadableStream, {
        t: build.tag,
        buildargs: build.buildArgs ?? {},
        labels: build.labels,
        rm: true,
        forcerm: true,
        pull: false,
        ...(build.platform ? { platform: build.platform } : {}),
      });
      failure = await followProgress(session, stream, (line) => log.line(line), `building ${build.what}`, progress.signal);
    } catch (error) {
      if (error instanceof Gopid1Error) throw error;
      failure = describeError(error);
    }
    if (failure !== undefined) {
      throw new Gopid1Error('IMAGE_BUILD_FAILED', `building ${build.what} failed: ${failure.trim()}`, {
        step: build.what,
        logTail: log.tail(),
        logFile: progress.logFile,
        hint: `Read the failing line above (full log: ${progress.logFile}). ${build.hint}`,
      });
    }
  } finally {
    await log.close();
  }
  const id = await imageId(session, build.tag);
  if (!id) throw new Gopid1Error('IMAGE_BUILD_FAILED', `the build of ${build.tag} finished but the image is missing`, { hint: 'Check the engine with `docker images` and run again.' });
  return id;
}

/** Removes an image by tag or id (and its untagged parents); a missing one is fine. */
export async function removeImage(session: DockerSession, ref: string): Promise<void> {
  try {
    await session.docker.getImage(ref).remove({ force: true });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw engineError(`cannot remove image ${ref}`, error);
  }
}

