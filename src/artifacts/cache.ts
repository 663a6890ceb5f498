import { createHash, randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256File } from './files.js';
import { ownedName } from './leftovers.js';

/** $GOPID1_CACHE_DIR, else $XDG_CACHE_HOME/gopid1, else ~/.cache/gopid1. */
export function cacheRoot(): string {
  if (process.env.GOPID1_CACHE_DIR) return path.resolve(process.env.GOPID1_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME ? path.resolve(process.env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'gopid1');
}

/** A stable hash of any JSON-able value (object keys sorted). */
export function hashKey(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

interface EntryIndex<Meta> {
  files: Record<string, string>;
  meta: Meta;
}

export interface CacheHit<Meta> {
  dir: string;
  files: Record<string, string>;
  meta: Meta;
}

/** An entry's file name: a plain name inside the entry, never a path out of it. */
function plainName(name: string): boolean {
  return name !== '' && name === path.basename(name) && !name.startsWith('.') && !name.includes('\0');
}

/**
 * A content-addressed store: `<root>/<kind>/<key>/` holds files and an index of their sha256. Entries are written
 * to a temporary directory and renamed into place; a valid entry is never removed or replaced while it may be read,
 * so a reader sees a whole entry or none. Reading checks every name (plain names in the entry, regular files, not
 * links) and every hash; an entry that fails is a miss, replaced by the next put.
 */
export class ContentCache {
  constructor(readonly root: string = cacheRoot()) {}

  private entryDir(kind: string, key: string): string {
    return path.join(this.root, kind, key);
  }

  async get<Meta>(kind: string, key: string): Promise<CacheHit<Meta> | undefined> {
    const dir = this.entryDir(kind, key);
    let index: EntryIndex<Meta>;
    try {
      index = JSON.parse(await readFile(path.join(dir, 'entry.json'), 'utf8')) as EntryIndex<Meta>;
    } catch {
      return undefined;
    }
    if (!index || typeof index.files !== 'object' || index.files === null) return undefined;
    const files: Record<string, string> = {};
    for (const [name, sha256] of Object.entries(index.files)) {
      if (!plainName(name) || name === 'entry.json') return undefined;
      const file = path.join(dir, name);
      const regular = await lstat(file).then((stats) => stats.isFile(), () => false);
      if (!regular || (await sha256File(file).catch(() => undefined)) !== sha256) return undefined;
      files[name] = file;
    }
    return { dir, files, meta: index.meta };
  }

  /** Stores copies of `files` (entry name → source path) with `meta`; returns the stored entry (another build's, when it stored the same key first). */
  async put<Meta>(kind: string, key: string, files: Record<string, string>, meta: Meta): Promise<CacheHit<Meta>> {
    for (const name of Object.keys(files)) if (!plainName(name) || name === 'entry.json') throw new Error(`invalid cache entry file name ${JSON.stringify(name)}`);
    const existing = await this.get<Meta>(kind, key);
    if (existing) return existing;
    const final = this.entryDir(kind, key);
    const temp = path.join(this.root, kind, ownedName('.tmp-', randomBytes(6).toString('hex')));
    await mkdir(temp, { recursive: true });
    try {
      const index: EntryIndex<Meta> = { files: {}, meta };
      for (const [name, source] of Object.entries(files)) {
        await copyFile(source, path.join(temp, name));
        index.files[name] = await sha256File(path.join(temp, name));
      }
      await writeFile(path.join(temp, 'entry.json'), `${JSON.stringify(index, null, 2)}\n`);
      await this.install(kind, key, temp, final);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    const stored = await this.get<Meta>(kind, key);
    if (!stored) throw new Error(`cache entry ${kind}/${key} is not readable right after it was written`);
    return stored;
  }

  /** Renames a written entry into place. A valid entry there stays (same key, same content); a damaged one is moved aside first. */
  private async install(kind: string, key: string, temp: string, final: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await rename(temp, final);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      }
      if (await this.get(kind, key)) return;
      const aside = path.join(this.root, kind, `.damaged-${randomBytes(6).toString('hex')}`);
      await rename(final, aside).then(
        () => rm(aside, { recursive: true, force: true }),
        () => undefined,
      );
    }
    throw new Error(`cannot store cache entry ${kind}/${key}: its place stays taken by a damaged entry`);
  }

  async clear(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
