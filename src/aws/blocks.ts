import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** EBS snapshots are written in blocks of 512 KiB (the EBS direct APIs' only block size). */
export const EBS_BLOCK_BYTES = 512 * 1024;
const GIB = 1024 ** 3;
/** The largest EBS snapshot the direct APIs take: 64 TiB. */
export const EBS_MAX_GIB = 64 * 1024;

/** One block of a disk that holds data, ready for PutSnapshotBlock. */
export interface DiskBlock {
  index: number;
  data: Buffer;
  /** base64 SHA-256 of the data, as PutSnapshotBlock wants it. */
  checksum: string;
}

/** The volume a disk of `bytes` needs, in whole GiB (EBS sizes volumes in GiB; at least 1). */
export function volumeGiB(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / GIB));
}

export function blockChecksum(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

/**
 * CompleteSnapshot's checksum with the LINEAR aggregation: SHA-256 over the blocks' own SHA-256 digests, concatenated
 * in block-index order, base64.
 */
export function aggregateChecksum(blocks: readonly Pick<DiskBlock, 'index' | 'checksum'>[]): string {
  const hash = createHash('sha256');
  for (const block of [...blocks].sort((a, b) => a.index - b.index)) hash.update(Buffer.from(block.checksum, 'base64'));
  return hash.digest('base64');
}

function allZero(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += 8) if (data.readBigUInt64LE(at) !== 0n) return false;
  return true;
}

/**
 * The blocks of a disk image that hold anything but zeros, in order; a last block shorter than 512 KiB is padded with
 * zeros. Blocks of zeros are never sent: a new snapshot reads them as zeros.
 */
export async function* dataBlocks(file: string): AsyncGenerator<DiskBlock> {
  const handle = await open(file, 'r');
  try {
    const bytes = (await handle.stat()).size;
    for (let index = 0; index * EBS_BLOCK_BYTES < bytes; index++) {
      const data = Buffer.alloc(EBS_BLOCK_BYTES);
      await handle.read(data, 0, EBS_BLOCK_BYTES, index * EBS_BLOCK_BYTES);
      if (!allZero(data)) yield { index, data, checksum: blockChecksum(data) };
    }
  } finally {
    await handle.close();
  }
}
