import { mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../artifacts/files.js';
import { stageBuilder } from '../builders.js';
import { type BuilderImage, packFiles } from '../engine/engine.js';
import { Gopid1Error } from '../errors.js';
import { DEFAULT_SERIES } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';

/** Image formats made from the raw disk by qemu-img (or GNU tar for Compute Engine). */
export type ConversionTarget = 'qcow2' | 'vmdk' | 'vhd' | 'gcp';

export interface ConvertOptions {
  target: ConversionTarget;
  /** The raw disk. */
  disk: string;
  /** Where its data ends: after it only zeros up to the backup GPT in its last MiB (DiskBuildResult.headBytes). */
  headBytes: number;
  /** File name in the out dir's staging directory. */
  file: string;
  /** Seeds the identifiers qemu-img would pick at random (the VMDK's CID, the VHD's UUID). */
  seed: string;
  sourceDateEpoch: number;
}

export interface ConvertResult {
  file: string;
  bytes: number;
  builder: BuilderImage;
  durationMs: number;
}

/** The backup GPT lives in a disk's last MiB. */
const TAIL_BYTES = 1024 * 1024;
const VHD_EPOCH = Date.UTC(2000, 0, 1) / 1000;

/**
 * A fixed VHD's footer (its last 512 bytes) with the time and UUID qemu-img set from the clock and at random replaced
 * by SOURCE_DATE_EPOCH and a UUID from `seed`, and its checksum made again.
 */
export function fixVhdFooter(footer: Buffer, seed: string, sourceDateEpoch: number): void {
  if (footer.length !== 512 || footer.toString('latin1', 0, 8) !== 'conectix') throw new RangeError('no VHD footer ("conectix") in the last 512 bytes');
  footer.writeUInt32BE(Math.max(0, Math.min(0xffffffff, sourceDateEpoch - VHD_EPOCH)), 24);
  Buffer.from(sha256(`vhd ${seed}`).slice(0, 32), 'hex').copy(footer, 68);
  footer.writeUInt32BE(0, 64);
  let sum = 0;
  for (const byte of footer) sum += byte;
  footer.writeUInt32BE(~sum >>> 0, 64);
}

/**
 * A VMDK's descriptor with the random content id (CID) qemu-img wrote replaced by one from `seed`. qemu-img prints
 * it without leading zeros ("CID=%x"), so the line is 1 to 8 digits long: it is written with 8, and the rest of the
 * descriptor moves into its zero padding, so every build gives the same bytes whatever qemu-img drew.
 */
export function fixVmdkCid(head: Buffer, seed: string): boolean {
  const text = head.toString('latin1');
  const match = /\nCID=([0-9a-f]{1,8})\n/.exec(text);
  if (!match) return false;
  const textEnd = text.indexOf('\0', match.index);
  const end = textEnd < 0 ? text.length : textEnd;
  const line = `\nCID=${sha256(`vmdk ${seed}`).slice(0, 8)}\n`;
  const descriptor = line + text.slice(match.index + match[0].length, end);
  const grows = line.length - match[0].length;
  // The descriptor is followed by zeros up to its region's end; it may take as many of them as it grows.
  if (grows > 0 && (textEnd < 0 || head.subarray(end, end + grows).some((byte) => byte !== 0) || end + grows > head.length)) return false;
  head.write(descriptor, match.index, 'latin1');
  return true;
}

async function patchFile(file: string, target: ConversionTarget, options: ConvertOptions): Promise<void> {
  if (target !== 'vhd' && target !== 'vmdk') return;
  const handle = await open(file, 'r+');
  try {
    const size = (await handle.stat()).size;
    const at = target === 'vhd' ? size - 512 : 0;
    const buffer = Buffer.alloc(target === 'vhd' ? 512 : Math.min(size, 64 * 1024));
    await handle.read(buffer, 0, buffer.length, at);
    if (target === 'vhd') fixVhdFooter(buffer, options.seed, options.sourceDateEpoch);
    else if (!fixVmdkCid(buffer, options.seed)) {
      // Seen once (a bench's first build of every format), never reproduced: say what the file held, to find out why.
      const descriptor = buffer.toString('latin1', 512, 640).replace(/[^\x20-\x7e\n]/g, '.');
      throw new RangeError(`no CID line in the VMDK descriptor of ${path.basename(file)} (${size} bytes; ${JSON.stringify(descriptor)} at byte 512)`);
    }
    await handle.write(buffer, 0, buffer.length, at);
  } finally {
    await handle.close();
  }
}

/** A disk's data and its last MiB: all of it a conversion needs to send, however large the disk. */
async function diskParts(disk: string, headBytes: number): Promise<{ head: Buffer; tail: Buffer; bytes: number }> {
  const handle = await open(disk, 'r');
  try {
    const bytes = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(headBytes, bytes));
    const tail = Buffer.alloc(Math.min(TAIL_BYTES, bytes - head.length));
    await handle.read(head, 0, head.length, 0);
    await handle.read(tail, 0, tail.length, bytes - tail.length);
    return { head, tail, bytes };
  } finally {
    await handle.close();
  }
}

/** Converts the raw disk in the ISO builder, then makes what qemu-img left to chance fixed. */
export async function convertDisk(context: StageContext, options: ConvertOptions): Promise<ConvertResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'iso', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const parts = await diskParts(options.disk, options.headBytes);
  const scratch = await mkdtemp(path.join(out.staging, `${options.target}-`));
  try {
    report({ kind: 'step', stage: 'disk', text: `converting the disk to ${options.target}` });
    await engine.runStep({
      role: `disk-${options.target}`,
      title: `disk: ${options.target}`,
      image: builder.id,
      cmd: ['convert-step'],
      env: { GOPID1_TARGET: options.target, GOPID1_FILE: options.file, GOPID1_DISK_BYTES: String(parts.bytes), SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
      limits: context.limits,
      writable: ['/iso'],
      inputs: [{ path: '/iso', archive: () => packFiles([{ name: 'in/disk.head', data: parts.head }, { name: 'in/disk.tail', data: parts.tail }]) }],
      outputs: [{ path: `/iso/out/${options.file}`, dest: scratch }],
      logFile: path.join(out.logs, 'disk.log'),
      onLine: (line) => report({ kind: 'line', stage: 'disk', line }),
      ...(signal ? { signal } : {}),
    });
    const made = path.join(scratch, options.file);
    try {
      await patchFile(made, options.target, options);
    } catch (error) {
      throw new Gopid1Error('STEP_FAILED', `cannot make the ${options.target} image reproducible: ${error instanceof Error ? error.message : String(error)}`, {
        step: `disk: ${options.target}`,
        hint: 'qemu-img in the disk builder wrote an unexpected image; rebuild the builder images (`gopid1 clean --images`) and try again.',
        cause: error,
      });
    }
    await rename(made, out.staged(options.file));
    const bytes = (await stat(out.staged(options.file))).size;
    report({ kind: 'done', stage: 'disk', text: `${options.file} made (${bytes} bytes)` });
    return { file: options.file, bytes, builder, durationMs: Date.now() - started };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
