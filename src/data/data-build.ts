import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../artifacts/files.js';
import { stageBuilder } from '../builders.js';
import { derivedGuid } from '../disk/disk-build.js';
import type { BuilderImage } from '../engine/engine.js';
import { Gopid1Error } from '../errors.js';
import { DEFAULT_SERIES } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import { parseSparse, writeSparseImage, type SparseImage } from './sparse.js';

export interface DataDiskBuildOptions {
  /** Machine name: the filesystem's UUID is derived from it. */
  name: string;
  /** File name in the out dir's staging directory. */
  file: string;
  bytes: number;
  /** Owner of the filesystem's root directory: the program's user. */
  owner: { uid: number; gid: number };
  /** Every time inside the filesystems. */
  sourceDateEpoch: number;
}

export interface DataDiskBuildResult {
  file: string;
  bytes: number;
  uuid: string;
  /** The sha256 of the image in gopid1's sparse form (its non-zero runs): hashing terabytes of zeros would take hours. */
  sparseSha256: string;
  /** The filesystem the supervising init writes to a blank disk, in the sparse form (/etc/gopid1/data.sparse). */
  template: Buffer;
  builder: BuilderImage;
  durationMs: number;
}

/** The data step's image, checked along with its template: a STEP_FAILED error when either is not what it should be. */
function checkedImage(data: Buffer, template: Buffer, bytes: number): SparseImage {
  try {
    const image = parseSparse(data);
    if (image.size !== bytes) throw new RangeError(`it is ${image.size} bytes, not ${bytes}`);
    parseSparse(template);
    return image;
  } catch (error) {
    throw new Gopid1Error('STEP_FAILED', `the data step's images are unusable: ${error instanceof Error ? error.message : String(error)}`, {
      step: 'data: make',
      hint: 'Rebuild the builder images (`gopid1 clean --images`) and try again.',
      cause: error,
    });
  }
}

/**
 * Makes the data disk in the ISO builder with mke2fs: an empty ext4 filesystem of the asked size (<name>.data.img,
 * sparse), and the small template of the same filesystem that the supervising init writes to a blank disk. Fixed
 * UUID (from the machine's name), hash seed and times: the same inputs, the same bytes.
 */
export async function buildDataDisk(context: StageContext, options: DataDiskBuildOptions): Promise<DataDiskBuildResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'iso', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const uuid = derivedGuid(`data ${options.name}`).toLowerCase();
  const scratch = await mkdtemp(path.join(out.staging, 'data-'));
  try {
    report({ kind: 'step', stage: 'data', text: `making the data disk (ext4, ${options.bytes / 2 ** 20} MiB)` });
    await engine.runStep({
      role: 'data-make',
      title: 'data: make',
      image: builder.id,
      cmd: ['data-step'],
      env: {
        GOPID1_DATA_BYTES: String(options.bytes),
        GOPID1_DATA_UUID: uuid,
        GOPID1_DATA_OWNER: `${options.owner.uid}:${options.owner.gid}`,
        SOURCE_DATE_EPOCH: String(options.sourceDateEpoch),
      },
      limits: context.limits,
      writable: ['/iso'],
      outputs: [{ path: '/iso/out', dest: scratch }],
      logFile: path.join(out.logs, 'data.log'),
      onLine: (line) => report({ kind: 'line', stage: 'data', line }),
      ...(signal ? { signal } : {}),
    });
    const [data, template] = await Promise.all([readFile(path.join(scratch, 'out', 'data.sparse')), readFile(path.join(scratch, 'out', 'template.sparse'))]);
    await writeSparseImage(out.staged(options.file), checkedImage(data, template, options.bytes));
    report({ kind: 'done', stage: 'data', text: `${options.file} made (${options.bytes} bytes, ext4, UUID ${uuid})` });
    return { file: options.file, bytes: options.bytes, uuid, sparseSha256: sha256(data), template, builder, durationMs: Date.now() - started };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
