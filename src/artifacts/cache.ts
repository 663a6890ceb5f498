import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256File } from './files.js';

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

/**
 * A content-addressed store: `<root>/<kind>/<key>/` holds files and an index of their sha256. Entries are
 * written to a temporary directory and renamed into place, and verified when read; a damaged entry is
 * removed and reported as a miss.
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
    const files: Record<string, string> = {};
    for (const [name, sha256] of Object.entries(index.files)) {
      const file = path.join(dir, name);
      const actual = await sha256File(file).catch(() => undefined);
      if (actual !== sha256) {
        await rm(dir, { recursive: true, force: true });
        return undefined;
      }
      files[name] = file;
    }
    return { dir, files, meta: index.meta };
  }

  /** Stores copies of `files` (entry name → source path) with `meta`; returns the stored entry. */
  async put<Meta>(kind: string, key: string, files: Record<string, string>, meta: Meta): Promise<CacheHit<Meta>> {
    const final = this.entryDir(kind, key);
    const temp = path.join(this.root, kind, `.tmp-${randomBytes(6).toString('hex')}`);
    await mkdir(temp, { recursive: true });
    try {
      const index: EntryIndex<Meta> = { files: {}, meta };
      for (const [name, source] of Object.entries(files)) {
        await copyFile(source, path.join(temp, name));
        index.files[name] = await sha256File(path.join(temp, name));
      }
      await writeFile(path.join(temp, 'entry.json'), `${JSON.stringify(index, null, 2)}\n`);
      await rm(final, { recursive: true, force: true });
      try {
        await rename(temp, final);
      } catch (error) {
        // Another build stored the same entry first: same key, same content.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      }
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    const stored = await this.get<Meta>(kind, key);
    if (!stored) throw new Error(`cache entry ${kind}/${key} vanished right after it was written`);
    return stored;
  }

  async clear(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
