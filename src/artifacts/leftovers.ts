import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Temporary files of a run carry the id of the process that made them (`<prefix><pid>-…`, or a `pid` file inside a
 * directory), so that a later run, or `gopid1 clean`, can remove those of runs that died (kill -9, power loss)
 * without touching a run still going on.
 */

/** Whether a process of this host is still running. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temporary name that says which process made it: `<prefix><pid>-<suffix>`. */
export function ownedName(prefix: string, suffix: string): string {
  return `${prefix}${process.pid}-${suffix}`;
}

/** The pid in a name made by ownedName, or a trailing `-<pid>` / `.partial-<pid>`. */
export function ownerOf(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const match = /^(\d+)(?:-|$)/.exec(name.slice(prefix.length));
  return match ? Number(match[1]) : undefined;
}

/** Marks a directory as this process's (for directories whose name cannot carry the pid). */
export async function markOwned(dir: string): Promise<void> {
  await writeFile(path.join(dir, '.gopid1-pid'), `${process.pid}\n`);
}

async function ownerOfDir(dir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dir, '.gopid1-pid'), 'utf8').catch(() => undefined);
  return text && /^\d+\s*$/.test(text) ? Number(text) : undefined;
}

/** Removes the entries of `dir` that `owner` attributes to a process that is no longer running; returns their names. */
async function removeDead(dir: string, owner: (name: string) => Promise<number | undefined> | number | undefined, alive: (pid: number) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = await owner(name);
    if (pid === undefined || alive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(path.join(dir, name));
  }
  return removed;
}

/** Staging directories of dead runs in an out dir (a build that was killed mid-way). */
export function removeDeadStaging(outDir: string, alive: (pid: number) => boolean = processAlive): Promise<string[]> {
  return removeDead(outDir, (name) => (name.startsWith('.gopid1-staging-') ? ownerOfDir(path.join(outDir, name)) : undefined), alive);
}

/** A `boot`'s own directory in the temporary directory (QMP socket, an EFI application's FAT drive): `<prefix><pid>-…`. */
export const BOOT_DIR_PREFIX = 'gopid1-boot-';
/** What earlier versions called it. */
const OLD_BOOT_DIR_PREFIX = 'gopid1-qmp-';

/**
 * Leftovers of dead runs in the cache (entries being written, damaged entries moved aside, partial downloads) and
 * in the temporary directory (`boot`'s directories).
 */
export async function removeDeadRunFiles(options: { cacheRoot: string; tmpDir?: string; alive?: (pid: number) => boolean }): Promise<string[]> {
  const alive = options.alive ?? processAlive;
  const removed: string[] = [];
  for (const kind of await readdir(options.cacheRoot).catch(() => [] as string[])) {
    const dir = path.join(options.cacheRoot, kind);
    removed.push(
      ...(await removeDead(dir, (name) => {
        if (name.startsWith('.damaged-')) return 0; // never in use: moved aside to be removed
        const partial = /\.partial-(\d+)$/.exec(name);
        return partial ? Number(partial[1]) : ownerOf(name, '.tmp-');
      }, (pid) => pid !== 0 && alive(pid))),
    );
  }
  removed.push(...(await removeDead(options.tmpDir ?? os.tmpdir(), (name) => ownerOf(name, BOOT_DIR_PREFIX) ?? ownerOf(name, OLD_BOOT_DIR_PREFIX), alive)));
  return removed;
}
