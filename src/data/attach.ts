import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BOOT_DIR_PREFIX } from '../artifacts/leftovers.js';
import { refused } from '../errors.js';
import { DATA_TEMPLATE_MIB } from '../plan/runtime.js';
import { probeDataDisk } from './probe.js';

/** The data disk a boot attaches, and what became of it. */
export interface AttachedDataDisk {
  file: string;
  /** gopid1 made the file (blank) for this boot: the machine formats it. */
  created: boolean;
  /** A blank disk for this run only, removed after it (no --data-disk was given). */
  scratch: boolean;
  /** Removes a scratch disk. */
  dispose: () => Promise<void>;
}

const MIB = 1024 * 1024;

/** Makes `file` a blank sparse disk of `bytes`; never over an existing file. */
async function createBlank(file: string, bytes: number): Promise<void> {
  const handle = await open(file, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    throw refused(`cannot create the data disk ${file}: ${error.code ?? error.message}`, 'Give a path in a directory that exists and that you may write to.');
  });
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/** Checks an existing data disk file: raw, and ext4 or blank, never anything the machine would refuse to mount. */
async function checkExisting(file: string): Promise<void> {
  const info = await stat(file);
  if (!info.isFile()) throw refused(`--data-disk ${file} is not a file`, 'Give a raw disk image file (gopid1 makes it when it does not exist yet).');
  const { contents, bytes } = await probeDataDisk(file);
  if (contents === 'other') {
    throw refused(`--data-disk ${file} holds neither an ext4 filesystem on the whole disk nor zeros (a partition table, another filesystem, or data): the machine would not mount it, and gopid1 never formats over data`, 'Give the <name>.data.img of `gopid1 build --data-disk`, a copy of it, an empty file (truncate -s 1G data.img), or a path that does not exist yet.');
  }
  if (contents === 'blank' && bytes < DATA_TEMPLATE_MIB * MIB) {
    throw refused(`--data-disk ${file} is blank and ${Math.floor(bytes / MIB)} MiB; the machine formats blank disks of at least ${DATA_TEMPLATE_MIB} MiB`, `Make it larger: truncate -s ${DATA_TEMPLATE_MIB}M ${file}`);
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A blank disk for one run, in a directory `gopid1 clean` removes if the run dies. */
async function scratchDisk(bytes: number): Promise<AttachedDataDisk> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${BOOT_DIR_PREFIX}${process.pid}-`));
  const file = path.join(dir, 'data.img');
  await createBlank(file, bytes);
  return { file, created: true, scratch: true, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The data disk of a boot: the given raw file (made blank when it does not exist, so the machine formats it on first
 * boot), or without one a blank scratch disk removed after the run, as `docker run` makes a volume nobody named.
 * `bytes` is the size the build recorded (undefined: no manifest, so the file must exist).
 */
export async function attachDataDisk(file: string | undefined, bytes: number | undefined): Promise<AttachedDataDisk> {
  if (file === undefined) {
    if (bytes === undefined) throw new RangeError('a scratch data disk needs a size');
    return scratchDisk(bytes);
  }
  const resolved = path.resolve(file);
  if (/\.(qcow2|vmdk|vhd|vhdx|vdi)$/i.test(resolved)) throw refused(`--data-disk ${file}: data disks are raw images`, 'Convert it with qemu-img convert -O raw, or give a raw file.');
  const existed = await exists(resolved);
  if (existed) await checkExisting(resolved);
  else if (bytes === undefined) throw refused(`--data-disk ${file} does not exist, and without the manifest of a --data-disk build gopid1 does not know its size`, 'Create it first (truncate -s 1G data.img), or boot the out dir of a build with --data-disk.');
  else await createBlank(resolved, bytes);
  return { file: resolved, created: !existed, scratch: false, dispose: async () => {} };
}
