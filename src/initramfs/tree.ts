import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';
import type { CpioEntry } from './newc.js';

/** The most of a directory copied into a machine's initramfs: it lives in RAM there. */
export const TREE_LIMIT_BYTES = 64 * 2 ** 20;

/** `name` and each of its parent directories as initramfs directories ("src", "src/a", "src/a/b"). */
function parents(name: string): CpioEntry[] {
  const parts = name.split('/');
  return parts.map((_, index) => ({ type: 'dir' as const, name: parts.slice(0, index + 1).join('/'), mode: 0o755 }));
}

/**
 * A directory as initramfs entries under `prefix` (a relative path; it and its parents are made): directories,
 * regular files with their permission bits, symlinks as they are. `.git` and the paths in `skip` (relative to
 * `dir`, /-separated) are left out; more than TREE_LIMIT_BYTES of files is refused.
 */
export async function directoryEntries(dir: string, prefix: string, skip: ReadonlySet<string> = new Set()): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = parents(prefix);
  let bytes = 0;
  const walk = async (relative: string): Promise<void> => {
    for (const item of (await readdir(path.join(dir, relative), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = relative === '' ? item.name : `${relative}/${item.name}`;
      if (item.name === '.git' || skip.has(child)) continue;
      const file = path.join(dir, child);
      const name = `${prefix}/${child}`;
      const info = await lstat(file);
      if (info.isDirectory()) {
        entries.push({ type: 'dir', name, mode: 0o755 });
        await walk(child);
      } else if (info.isSymbolicLink()) {
        entries.push({ type: 'symlink', name, target: await readlink(file) });
      } else if (info.isFile()) {
        bytes += info.size;
        if (bytes > TREE_LIMIT_BYTES) {
          throw new Gopid1Error('BAD_INPUT', `${dir} holds more than ${TREE_LIMIT_BYTES / 2 ** 20} MiB of files, which the machine would keep in RAM`, {
            hint: 'Move large files the tests do not read out of the package directory.',
          });
        }
        entries.push({ type: 'file', name, mode: info.mode & 0o777, data: await readFile(file) });
      }
    }
  };
  await walk('');
  return entries;
}
