import { open } from 'node:fs/promises';

/**
 * What a data disk holds, as the supervising init judges it (init/data.go) before it touches the disk: an ext4
 * filesystem on the whole disk (mounted), zeros in its first and last MiB (blank: formatted on first boot), or
 * anything else (a partition table, another filesystem, data: never formatted over).
 */
export type DataDiskContents = 'ext4' | 'blank' | 'other';

const MIB = 1024 * 1024;
/** The ext2/3/4 superblock's magic (0xEF53, little-endian) at byte 56 of the superblock, which starts at 1024. */
const EXT_MAGIC_AT = 1024 + 56;

function allZeros(buffer: Buffer): boolean {
  for (const byte of buffer) if (byte !== 0) return false;
  return true;
}

/** Judges the disk image `file` the way the init judges a disk. */
export async function probeDataDisk(file: string): Promise<{ contents: DataDiskContents; bytes: number }> {
  const handle = await open(file, 'r');
  try {
    const bytes = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(MIB, bytes));
    await handle.read(head, 0, head.length, 0);
    if (head.length >= EXT_MAGIC_AT + 2 && head.readUInt16LE(EXT_MAGIC_AT) === 0xef53) return { contents: 'ext4', bytes };
    const tail = Buffer.alloc(Math.min(MIB, bytes));
    await handle.read(tail, 0, tail.length, bytes - tail.length);
    return { contents: allZeros(head) && allZeros(tail) ? 'blank' : 'other', bytes };
  } finally {
    await handle.close();
  }
}
