import { execa } from 'execa';
import { Gopid1Error, describeError, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { withTimeout } from '../timeout.js';
import { type DockerSession } from './connect.js';
import { followProgress, imageId, openImageLog, type ImageProgress } from './image-build.js';

const PULL_TIMEOUT_MS = 60_000;
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

async function tryPull(session: DockerSession, ref: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const stream = await withTimeout(session.docker.pull(ref) as Promise<NodeJS.ReadableStream>, PULL_TIMEOUT_MS);
    const failure = await followProgress(session, stream, onLine, `pulling ${ref}`, signal);
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
async function bootstrapDebian(session: DockerSession, ref: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
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
    const stream = (await session.docker.importImage(child.stdout as unknown as NodeJS.ReadableStream, { repo, tag })) as NodeJS.ReadableStream;
    importFailure = await followProgress(session, stream, onLine, `importing ${ref}`, signal);
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
const baseImagesInFlight = new WeakMap<DockerSession, Map<string, Promise<string>>>();

/** Makes `ref` present: already local → as is; else pull; else bootstrap it offline from Debian's archive. */
export function ensureBaseImage(session: DockerSession, ref: string, progress: ImageProgress): Promise<string> {
  let inFlight = baseImagesInFlight.get(session);
  if (!inFlight) baseImagesInFlight.set(session, (inFlight = new Map()));
  let pending = inFlight.get(ref);
  if (!pending) {
    pending = resolveBaseImage(session, ref, progress);
    inFlight.set(ref, pending);
    pending.catch(() => inFlight.delete(ref));
  }
  return pending;
}

async function resolveBaseImage(session: DockerSession, ref: string, progress: ImageProgress): Promise<string> {
  const present = await imageId(session, ref);
  if (present) return present;
  const log = await openImageLog(progress);
  const onLine = (line: string): void => log.line(line);
  try {
    onLine(`base image ${ref} is not present; pulling it`);
    const pullFailure = await tryPull(session, ref, onLine, progress.signal);
    if (pullFailure === undefined) {
      const pulled = await imageId(session, ref);
      if (pulled) return pulled;
    }
    onLine(`pull failed (${pullFailure ?? 'image missing after pull'}); bootstrapping ${ref} from the Debian archive`);
    await bootstrapDebian(session, ref, onLine, progress.signal);
    const id = await imageId(session, ref);
    if (!id) throw new Gopid1Error('BASE_IMAGE_UNAVAILABLE', `${ref} is still missing after the bootstrap`, { hint: 'Check `docker images` and the engine log.' });
    return id;
  } finally {
    await log.close();
  }
}

