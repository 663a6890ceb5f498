import { open } from 'node:fs/promises';

/**
 * gopid1's sparse form of a disk image: the blocks that are not zeros, so a data disk of any size travels (out of
 * the builder, into the initramfs) as what it holds. "GP1SPARS", the image's size (u64 LE), then runs up to the
 * end: offset (u64 LE), length (u32 LE), that many bytes. Written by dockerfiles/iso/data-step.sh, read here and
 * by the supervising init (init/data.go).
 */
export interface SparseImage {
  size: number;
  runs: { offset: number; data: Buffer }[];
}

const MAGIC = 'GP1SPARS';
const HEADER = 16;
const RUN_HEADER = 12;

export function parseSparse(buffer: Buffer): SparseImage {
  if (buffer.length < HEADER || buffer.toString('latin1', 0, 8) !== MAGIC) throw new RangeError('not a gopid1 sparse image (no GP1SPARS header)');
  const size = Number(buffer.readBigUInt64LE(8));
  const runs: SparseImage['runs'] = [];
  let at = HEADER;
  let end = 0;
  while (at < buffer.length) {
    if (at + RUN_HEADER > buffer.length) throw new RangeError(`a run's header is cut off at byte ${at}`);
    const offset = Number(buffer.readBigUInt64LE(at));
    const length = buffer.readUInt32LE(at + 8);
    at += RUN_HEADER;
    if (at + length > buffer.length) throw new RangeError(`the run at offset ${offset} is cut off`);
    if (offset < end || offset + length > size) throw new RangeError(`the run at offset ${offset} (${length} bytes) overlaps another or lies outside the ${size}-byte image`);
    runs.push({ offset, data: buffer.subarray(at, at + length) });
    end = offset + length;
    at += length;
  }
  return { size, runs };
}

export function encodeSparse(image: SparseImage): Buffer {
  const header = Buffer.alloc(HEADER);
  header.write(MAGIC, 0, 'latin1');
  header.writeBigUInt64LE(BigInt(image.size), 8);
  const parts: Buffer[] = [header];
  for (const run of image.runs) {
    const runHeader = Buffer.alloc(RUN_HEADER);
    runHeader.writeBigUInt64LE(BigInt(run.offset));
    runHeader.writeUInt32LE(run.data.length, 8);
    parts.push(runHeader, run.data);
  }
  return Buffer.concat(parts);
}

/** Writes the image as a sparse file: its size, then its runs; the rest stays holes (zeros). */
export async function writeSparseImage(file: string, image: SparseImage): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.truncate(image.size);
    for (const run of image.runs) await handle.write(run.data, 0, run.data.length, run.offset);
  } finally {
    await handle.close();
  }
}
