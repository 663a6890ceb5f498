import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import { Gopid1Error, describeError, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { openLog, type LogSink } from '../logs.js';
import { withTimeout } from '../timeout.js';
import { packDirectory, readFirstFile } from './archive.js';
import { engineError, labelsFor, type Engine } from './connect.js';

const PULL_TIMEOUT_MS = 60_000;
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

export interface ImageProgress {
  onLine?: (line: string) => void;
  /** Build and bootstrap output is appended here. */
  logFile: string;
  signal?: AbortSignal;
}

export interface BuilderSpec {
  /** "kernel", "go": the directory under dockerfiles/ and the image name gopid1-<name>-builder. */
  name: string;
  contextDir: string;
  /** Paths in contextDir (relative, forward slashes) that are not part of the image, e.g. the kernel's fragments. */
  ignore?: string[];
  buildArgs: Record<string, string>;
  /** The FROM image the Dockerfile uses with these build args, e.g. "debian:trixie". */
  baseImage: string;
}

export interface BuilderImage {
  /** gopid1-<name>-builder:<hash of Dockerfile, context and build args> */
  tag: string;
  /** The engine's image id (sha256:…). */
  id: string;
  /** Debian packages installed in it, "name=version", sorted. */
  packages: string[];
  /** True when this run built it. */
  built: boolean;
}

interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Every file of a build context (but `ignore`), hashed in name order with its exec bit: the image's identity. */
export async function hashContext(dir: string, extra: Record<string, string>, ignore: string[] = []): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (relative: string): Promise<void> => {
    const entries = (await readdir(path.join(dir, relative), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (ignore.includes(child)) continue;
      if (entry.isDirectory()) {
        await walk(child);
      } else if (entry.isFile()) {
        const full = path.join(dir, child);
        const executable = ((await stat(full)).mode & 0o111) !== 0;
        hash.update(`${child}\0${executable ? 'x' : '-'}\0`);
        hash.update(await readFile(full));
        hash.update('\0');
      }
    }
  };
  await walk('');
  for (const key of Object.keys(extra).sort()) hash.update(`${key}=${extra[key]}\0`);
  return hash.digest('hex');
}

async function imageId(engine: Engine, ref: string): Promise<string | undefined> {
  try {
    const info = await engine.docker.getImage(ref).inspect();
    return info.Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw engineError(`cannot inspect image ${ref}`, error);
  }
}

/**
 * Reads a Docker progress stream (build, pull, import) to its end; rejects on its first error entry. An abort
 * hangs up on the engine, which cancels the build or pull, and is reported as an interruption of `what`.
 */
async function followProgress(engine: Engine, stream: NodeJS.ReadableStream, onLine: (line: string) => void, what: string, signal?: AbortSignal): Promise<string | undefined> {
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
    engine.docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      },
      (event: ProgressEvent) => {
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

function openImageLog(progress: ImageProgress): Promise<LogSink> {
  return openLog(progress.logFile, { append: true, tailSize: 30, ...(progress.onLine ? { onLine: progress.onLine } : {}) });
}

async function tryPull(engine: Engine, ref: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const stream = await withTimeout(engine.docker.pull(ref) as Promise<NodeJS.ReadableStream>, PULL_TIMEOUT_MS);
    const failure = await followProgress(engine, stream, onLine, `pulling ${ref}`, signal);
    return failure ?? undefined;
  } catch (error) {
    if (error instanceof Gopid1Error) throw error;
    return describeError(error);
  }
}

async function ensureMmdebstrap(): Promise<void> {
  const found = await execa('sh', ['-c', 'command -v mmdebstrap'], { reject: false });
  if (found.exitCode === 0) return;
  const root = process.getuid?.() === 0;
  const apt = (await execa('sh', ['-c', 'command -v apt-get'], { reject: false })).exitCode === 0;
  if (!root || !apt) {
    throw new Gopid1Error('BASE_IMAGE_UNAVAILABLE', 'no registry answers and mmdebstrap is not installed, so the Debian base image cannot be bootstrapped', {
      hint: 'Install mmdebstrap (Debian: sudo apt-get install mmdebstrap), or make a registry reachable, or `docker load` a debian image, then run again.',
    });
  }
  const install = await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'mmdebstrap'], {
    reject: false,
    env: { DEBIAN_FRONTEND: 'noninteractive' },
    all: true,
  });
  if (install.exitCode !== 0) {
    throw new Gopid1Error('BASE_IMAGE_UNAVAILABLE', 'could not install mmdebstrap to bootstrap the Debian base image', {
      command: 'apt-get install mmdebstrap',
      exitCode: install.exitCode,
      logTail: String(install.all ?? '').split('\n').slice(-15),
      hint: 'Run `apt-get update && apt-get install mmdebstrap` as root, then run again.',
    });
  }
}

/**
 * Bootstraps `debian:<suite>` from the Debian archive with mmdebstrap (minbase, deterministic with
 * SOURCE_DATE_EPOCH) and imports it under that tag, for machines where no registry answers.
 */
async function bootstrapDebian(engine: Engine, ref: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const match = /^debian:([a-z]+)(?:-slim)?$/.exec(ref);
  if (!match) {
    throw new Gopid1Error('BASE_IMAGE_UNAVAILABLE', `base image ${ref} is not present and cannot be pulled`, {
      hint: `Only debian:<suite> base images can be bootstrapped offline. Load ${ref} with \`docker load\` or make a registry reachable.`,
    });
  }
  const suite = match[1] ?? 'trixie';
  const [repo, tag] = ref.split(':') as [string, string];
  await ensureMmdebstrap();
  const mirror = process.env.GOPID1_DEBIAN_MIRROR ?? DEFAULT_MIRROR;
  const args = ['--variant=minbase', '--quiet', suite, '-', mirror];
  onLine(`$ mmdebstrap ${args.join(' ')} | docker import - ${ref}`);
  const child = execa('mmdebstrap', args, {
    env: { SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? '1700000000' },
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    reject: false,
    cancelSignal: signal,
  });
  const stderrLines = new LineSplitter(onLine);
  child.stderr?.on('data', (chunk: Buffer) => stderrLines.push(chunk));
  let importFailure: string | undefined;
  try {
    const stream = (await engine.docker.importImage(child.stdout as unknown as NodeJS.ReadableStream, { repo, tag })) as NodeJS.ReadableStream;
    importFailure = await followProgress(engine, stream, onLine, `importing ${ref}`, signal);
  } catch (error) {
    child.kill();
    if (error instanceof Gopid1Error) throw error;
    importFailure = describeError(error);
  }
  const result = await child;
  stderrLines.end();
  if (signal?.aborted) throw interrupted('base image bootstrap');
  if (result.exitCode !== 0 || importFailure !== undefined) {
    throw new Gopid1Error('BASE_IMAGE_UNAVAILABLE', `could not bootstrap ${ref} from ${mirror}`, {
      command: `mmdebstrap ${args.join(' ')} | docker import - ${ref}`,
      exitCode: result.exitCode,
      logTail: [...String(result.stderr ?? '').split('\n').slice(-15), ...(importFailure ? [importFailure] : [])],
      hint: 'Check that the Debian archive answers (or set GOPID1_DEBIAN_MIRROR to a mirror that does), then run again.',
    });
  }
  onLine(`bootstrapped ${ref} from ${mirror}`);
}

// Stages run in parallel and share base images: one pull or bootstrap per engine and ref.
const baseImagesInFlight = new WeakMap<Engine, Map<string, Promise<string>>>();

/** Makes `ref` present: already local → as is; else pull; else bootstrap it offline from Debian's archive. */
export function ensureBaseImage(engine: Engine, ref: string, progress: ImageProgress): Promise<string> {
  let inFlight = baseImagesInFlight.get(engine);
  if (!inFlight) baseImagesInFlight.set(engine, (inFlight = new Map()));
  let pending = inFlight.get(ref);
  if (!pending) {
    pending = resolveBaseImage(engine, ref, progress);
    inFlight.set(ref, pending);
    pending.catch(() => inFlight.delete(ref));
  }
  return pending;
}

async function resolveBaseImage(engine: Engine, ref: string, progress: ImageProgress): Promise<string> {
  const present = await imageId(engine, ref);
  if (present) return present;
  const log = await openImageLog(progress);
  const onLine = (line: string): void => log.line(line);
  try {
    onLine(`base image ${ref} is not present; pulling it`);
    const pullFailure = await tryPull(engine, ref, onLine, progress.signal);
    if (pullFailure === undefined) {
      const pulled = await imageId(engine, ref);
      if (pulled) return pulled;
    }
    onLine(`pull failed (${pullFailure ?? 'image missing after pull'}); bootstrapping ${ref} from the Debian archive`);
    await bootstrapDebian(engine, ref, onLine, progress.signal);
    const id = await imageId(engine, ref);
    if (!id) throw new Gopid1Error('BASE_IMAGE_UNAVAILABLE', `${ref} is still missing after the bootstrap`, { hint: 'Check `docker images` and the engine log.' });
    return id;
  } finally {
    await log.close();
  }
}

async function readPackages(engine: Engine, id: string): Promise<string[]> {
  // Read the list the Dockerfile wrote, from a created (never started) container.
  const container = await engine.docker.createContainer({ Image: id, Cmd: ['true'], Labels: labelsFor(engine, 'inspect') });
  try {
    const archive = await container.getArchive({ path: '/usr/share/gopid1-packages.txt' });
    return (await readFirstFile(archive))
      .toString()
      .split('\n')
      .filter((line) => line !== '')
      .sort();
  } catch {
    return [];
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
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
  labels: Record<string, string>;
  /** Added to the error's hint when the build fails. */
  hint: string;
  progress: ImageProgress;
}

/**
 * Builds an image through the engine's build API (intermediate containers always removed) and returns its id.
 * The build stream is logged and shown; its first error entry fails the build with that line.
 */
export async function buildImage(engine: Engine, build: ImageBuild): Promise<string> {
  const { progress } = build;
  const log = await openImageLog(progress);
  try {
    log.line(`building ${build.tag} from ${build.from}`);
    let failure: string | undefined;
    try {
      const stream = await engine.docker.buildImage(build.context() as unknown as NodeJS.ReadableStream, {
        t: build.tag,
        buildargs: build.buildArgs ?? {},
        labels: build.labels,
        rm: true,
        forcerm: true,
        pull: false,
      });
      failure = await followProgress(engine, stream, (line) => log.line(line), `building ${build.what}`, progress.signal);
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
  const id = await imageId(engine, build.tag);
  if (!id) throw new Gopid1Error('IMAGE_BUILD_FAILED', `the build of ${build.tag} finished but the image is missing`, { hint: 'Check the engine with `docker images` and run again.' });
  return id;
}

/** Removes an image by tag or id (and its untagged parents); a missing one is fine. */
export async function removeImage(engine: Engine, ref: string): Promise<void> {
  try {
    await engine.docker.getImage(ref).remove({ force: true });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw engineError(`cannot remove image ${ref}`, error);
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
export async function imageSizes(engine: Engine, ref: string, signal?: AbortSignal): Promise<ImageSizes> {
  const what = `measuring image ${ref}`;
  if (signal?.aborted) throw interrupted(what);
  try {
    const info = await engine.docker.getImage(ref).inspect();
    const saved = (await engine.docker.getImage(ref).get()) as unknown as Readable;
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

/**
 * Returns the builder image for `spec`, building it when no image carries its content hash yet. The build
 * stream is logged and shown; its first error entry fails the build with that line.
 */
export async function ensureBuilderImage(engine: Engine, spec: BuilderSpec, progress: ImageProgress): Promise<BuilderImage> {
  const ignore = spec.ignore ?? [];
  const hash = await hashContext(spec.contextDir, { ...spec.buildArgs, FROM: spec.baseImage }, ignore);
  const tag = `gopid1-${spec.name}-builder:${hash.slice(0, 16)}`;
  let id = await imageId(engine, tag);
  let built = false;
  if (!id) {
    await ensureBaseImage(engine, spec.baseImage, progress);
    id = await buildImage(engine, {
      context: () => packDirectory(spec.contextDir, { skip: (relative) => ignore.includes(relative) }),
      tag,
      what: `the ${spec.name} builder image`,
      from: spec.contextDir,
      buildArgs: spec.buildArgs,
      labels: { 'gopid1.builder': spec.name, 'gopid1.context': hash },
      hint: 'Builder images install Debian packages, so Debian\'s archive must answer from containers.',
      progress,
    });
    built = true;
  }
  return { tag, id, packages: await readPackages(engine, id), built };
}
