import { constants } from 'node:fs';
import { access, chmod, mkdir, readdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error, errnoIn } from '../errors.js';
import { markOwned, removeDeadStaging } from './leftovers.js';

/** Below this much free space the disk of the out dir counts as the full one. */
const NEARLY_FULL_BYTES = 64 * 2 ** 20;

function inside(dir: string, file: string): boolean {
  const relative = path.relative(dir, path.resolve(file));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Free bytes on the disk of `dir` (or of its nearest existing parent); undefined when it cannot be told. */
async function freeBytes(dir: string): Promise<number | undefined> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    try {
      const stats = await statfs(current);
      return stats.bavail * stats.bsize;
    } catch {
      if (current === path.dirname(current)) return undefined;
    }
  }
}

/**
 * A write that found the disk full (ENOSPC, in `error` or its causes) as one NO_SPACE error that says where:
 * the out dir when the failing file is in it or its disk is the full one, else the file that failed. Other
 * errors: undefined.
 */
export async function noSpaceError(error: unknown, options: { outDir?: string } = {}): Promise<Gopid1Error | undefined> {
  const errno = errnoIn(error, 'ENOSPC');
  if (!errno) return undefined;
  // copyfile names its source as `path` and its target as `dest`: the target is what did not fit.
  const file = (errno as NodeJS.ErrnoException & { dest?: string }).dest ?? errno.path;
  const step = error instanceof Gopid1Error ? error.step : undefined;
  const common = { ...(step !== undefined ? { step } : {}), cause: error };
  if (options.outDir !== undefined) {
    const dir = path.resolve(options.outDir);
    const free = await freeBytes(dir);
    if (file !== undefined ? inside(dir, file) : free !== undefined && free < NEARLY_FULL_BYTES) {
      return new Gopid1Error('NO_SPACE', `no space left on device (ENOSPC) writing to the out dir ${options.outDir}`, {
        ...common,
        hint: `Free space on the disk that holds ${dir} (\`df -h ${dir}\`), or choose another --out on a disk with room, and run again. Nothing was written to the final paths.`,
      });
    }
  }
  return new Gopid1Error('NO_SPACE', `no space left on device (ENOSPC) writing ${file ?? 'a file'}`, {
    ...common,
    hint: `Free space on the disk that holds ${file !== undefined ? path.dirname(path.resolve(file)) : 'the out dir, the cache (~/.cache/gopid1) or the temporary directory'} and run again.`,
  });
}

/** Where the previous build's manifest waits while a build commits. */
const PREVIOUS_MANIFEST = '.gopid1-manifest-previous.json';

/** What a gopid1 build leaves in its out dir besides the files its manifest lists. */
function madeByGopid1(name: string): boolean {
  return name === 'logs' || name === 'manifest.json' || name === PREVIOUS_MANIFEST || name === 'serial.log' || name.startsWith('.gopid1-staging-') || /^compare\.(json|md|svg)$/.test(name);
}

/** The entries of an existing out dir that are not gopid1's, when it holds no manifest of a gopid1 build. */
async function foreignEntries(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.length === 0) return [];
  for (const name of ['manifest.json', PREVIOUS_MANIFEST]) {
    const manifest = await readFile(path.join(dir, name), 'utf8')
      .then((text) => JSON.parse(text) as { schema?: unknown; artifacts?: unknown })
      .catch(() => undefined);
    if (manifest && typeof manifest.schema === 'number' && typeof manifest.artifacts === 'object') return [];
  }
  return entries.filter((name) => !madeByGopid1(name)).sort();
}

/** The previous build's logs: gopid1's own *.log files, nothing else under logs/. */
async function removeOldLogs(logs: string): Promise<void> {
  for (const entry of await readdir(logs, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.log')) await rm(path.join(logs, entry.name), { force: true });
  }
}

/**
 * The out dir of a build. Artifacts are made in a staging directory inside it and renamed into place only
 * when the whole build succeeded, so a failed or interrupted build never leaves a half-written artifact at
 * a final path (and the previous build's artifacts stay as they were).
 */
export class OutputDir {
  private constructor(
    readonly dir: string,
    readonly staging: string,
    readonly logs: string,
  ) {}

  /**
   * Opens (or makes) the out dir. A directory that holds anything gopid1 did not make, and no manifest of a gopid1
   * build, is refused unless `force`: gopid1 deletes only what it made, and a mistyped --out must not become a
   * build's home.
   */
  static async open(out: string, options: { appDir: string; runId: string; force?: boolean }): Promise<OutputDir> {
    const dir = path.resolve(out);
    if (dir === path.parse(dir).root) {
      throw new Gopid1Error('BAD_INPUT', `refusing to write build output into ${dir}`, { hint: 'Pass --out with a directory of its own, e.g. --out dist.' });
    }
    if (dir === path.resolve(options.appDir)) {
      throw new Gopid1Error('BAD_INPUT', `the out dir ${out} is the app directory`, { hint: 'Pass --out with a directory of its own, e.g. --out dist.' });
    }
    const foreign = await foreignEntries(dir);
    if (foreign.length > 0 && !options.force) {
      throw new Gopid1Error('BAD_INPUT', `the out dir ${out} holds files gopid1 did not make (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}) and no gopid1 build`, {
        hint: 'Pass --out with a new or empty directory (e.g. --out dist), or add --force to write there anyway (gopid1 deletes only what it made).',
      });
    }
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (error) {
      throw new Gopid1Error('BAD_INPUT', `cannot write to the out dir ${out}`, {
        hint: 'Choose a directory you can write to with --out, or fix its permissions.',
        cause: error,
      });
    }
    const staging = path.join(dir, `.gopid1-staging-${options.runId}`);
    const logs = path.join(dir, 'logs');
    try {
      await removeDeadStaging(dir);
      await mkdir(staging, { recursive: true, mode: 0o755 });
      await markOwned(staging);
      await mkdir(logs, { recursive: true, mode: 0o755 });
      // A directory gopid1 was forced into keeps every file it had, logs/ included.
      if (foreign.length === 0) await removeOldLogs(logs);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    return new OutputDir(dir, staging, logs);
  }

  /** Path of a file being made in staging. */
  staged(name: string): string {
    return path.join(this.staging, name);
  }

  /**
   * Moves the staged files into the out dir, then manifest.json last (each step atomic). Artifacts the
   * previous build listed and this one does not make (`app` after a switch to --init direct, an ISO after
   * building without --iso) are removed, so the out dir holds one build. The manifest is written to staging
   * before anything moves: a disk too full for it fails the build with the previous one untouched.
   */
  async commit(files: string[], manifest: unknown): Promise<void> {
    const temp = this.staged('manifest.json');
    await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
    // The old manifest steps aside first: from here until the new one is in place no manifest.json describes a
    // mix of old and new files (a crash in between leaves none, and the next build treats the directory as
    // gopid1's through the one set aside).
    const aside = path.join(this.dir, PREVIOUS_MANIFEST);
    await rename(path.join(this.dir, 'manifest.json'), aside).catch(() => undefined);
    const previous = await readFile(aside, 'utf8')
      .then((text) => Object.values((JSON.parse(text) as { artifacts?: Record<string, { file?: unknown }> }).artifacts ?? {}).map((record) => record.file))
      .catch(() => []);
    for (const file of previous) {
      // Only plain names: a manifest is data, and never a reason to delete outside the out dir.
      if (typeof file === 'string' && file === path.basename(file) && !file.startsWith('.') && !files.includes(file) && file !== 'manifest.json') {
        await rm(path.join(this.dir, file), { force: true });
      }
    }
    for (const name of files) {
      await chmod(this.staged(name), name === 'init' || name === 'app' ? 0o755 : 0o644);
      await rename(this.staged(name), path.join(this.dir, name));
    }
    await rename(temp, path.join(this.dir, 'manifest.json'));
    await rm(aside, { force: true });
    await this.discard();
  }

  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
