import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readManifest, type BuilderRecord, type Manifest } from '../artifacts/manifest.js';
import { executePlan, type BuildOptions } from './build.js';
import { gatherHostFacts } from '../plan/host.js';
import { planBuild } from '../plan/plan.js';
import { Gopid1Error } from '../errors.js';
import type { ProgressEvent } from '../progress.js';

export interface VerifyOptions extends Omit<BuildOptions, 'out' | 'cache'> {
  signal?: AbortSignal;
  /** Check one fresh build against this published manifest.json instead of building twice. */
  against?: string;
  /** Keep the build directories (their paths are in the result). */
  keep?: boolean;
  /** Progress of the builds; `round` is 1 or 2. */
  onProgress?: (event: ProgressEvent, round: number) => void;
}

export interface Difference {
  offset: number;
  /** What lies there, e.g. "2 KiB block 16 (primary volume descriptor)". */
  where: string;
  /** Hex of 16 bytes around the offset, in each build (or the published file). */
  expected: string;
  actual: string;
}

export interface ArtifactComparison {
  /** Manifest key: bzImage, init, initramfs, kernelConfig, iso. */
  artifact: string;
  file: string;
  identical: boolean;
  expectedSha256: string;
  actualSha256?: string;
  /** Absent when the other bytes are not at hand (a published manifest without its files). */
  difference?: Difference;
  /** The artifact exists on one side only. */
  missing?: 'expected' | 'actual';
}

export interface VerifyResult {
  identical: boolean;
  artifacts: ArtifactComparison[];
  /** With --against: builder packages that differ from the published manifest's, "name: old → new". */
  toolchainChanges: string[];
  /** Build directories kept with `keep`. */
  dirs: string[];
}

const ISO_REGIONS: [number, number, string][] = [
  [0, 512, 'MBR (hybrid boot code and partition table)'],
  [512, 16 * 2048, 'system area'],
  [16 * 2048, 17 * 2048, 'primary volume descriptor'],
  [17 * 2048, 18 * 2048, 'El Torito boot record'],
];

/** A human description of where `offset` lies in the artifact `artifact`. */
export function describeOffset(artifact: string, offset: number, bytes: Buffer): string {
  switch (artifact) {
    case 'iso': {
      const region = ISO_REGIONS.find(([from, to]) => offset >= from && offset < to);
      return `2 KiB block ${Math.floor(offset / 2048)}${region ? ` (${region[2]})` : ''}`;
    }
    case 'initramfs':
      return offset < 10 ? 'gzip header' : 'gzip-compressed cpio data';
    case 'init':
    case 'app':
      return offset < 64 ? 'ELF header' : 'program code or data';
    case 'bzImage':
      return offset < 0x1f1 ? 'boot sector' : offset < 0x290 ? 'setup header' : 'setup code or compressed kernel';
    case 'raw':
    case 'aws': {
      const sector = Math.floor(offset / 512);
      const what = sector === 0 ? 'protective MBR' : sector === 1 ? 'GPT header' : sector < 34 ? 'GPT partition entries' : bytes.length - offset <= 33 * 512 ? 'backup GPT' : 'partition contents';
      return `sector ${sector} (${what})`;
    }
    case 'uki':
      return offset < 0x400 ? 'PE headers' : 'PE sections (stub, kernel, initramfs, command line)';
    case 'kernelConfig': {
      const line = bytes.subarray(0, offset).toString('latin1').split('\n').length;
      return `line ${line}: ${bytes.toString('latin1').split('\n')[line - 1] ?? ''}`;
    }
    default:
      return `byte ${offset}`;
  }
}

function hexAround(bytes: Buffer, offset: number): string {
  const start = Math.max(0, offset - 8);
  return `@${start}: ${bytes.subarray(start, start + 16).toString('hex').replace(/(..)/g, '$1 ').trim()}`;
}

/** The first offset where two buffers differ (the shorter one's end when one is a prefix), or -1. */
export function firstDifference(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

type ArtifactKey = keyof Manifest['artifacts'];

export async function compareArtifacts(expected: Manifest, expectedDir: string | undefined, actual: Manifest, actualDir: string): Promise<ArtifactComparison[]> {
  const keys = new Set([...Object.keys(expected.artifacts), ...Object.keys(actual.artifacts)] as ArtifactKey[]);
  const comparisons: ArtifactComparison[] = [];
  for (const key of keys) {
    const want = expected.artifacts[key];
    const got = actual.artifacts[key];
    if (!want || !got) {
      comparisons.push({ artifact: key, file: (want ?? got)?.file ?? key, identical: false, expectedSha256: want?.sha256 ?? '', ...(got ? { actualSha256: got.sha256 } : {}), missing: want ? 'actual' : 'expected' });
      continue;
    }
    const comparison: ArtifactComparison = { artifact: key, file: got.file, identical: want.sha256 === got.sha256, expectedSha256: want.sha256, actualSha256: got.sha256 };
    if (!comparison.identical && expectedDir) {
      const [a, b] = await Promise.all([readFile(path.join(expectedDir, want.file)).catch(() => undefined), readFile(path.join(actualDir, got.file))]);
      if (a) {
        const offset = firstDifference(a, b);
        if (offset >= 0) comparison.difference = { offset, where: describeOffset(key, offset, b), expected: hexAround(a, offset), actual: hexAround(b, offset) };
      }
    }
    comparisons.push(comparison);
  }
  return comparisons;
}

export function packageChanges(label: string, before: BuilderRecord | undefined, after: BuilderRecord | undefined): string[] {
  if (!before || !after) return [];
  const versions = (record: BuilderRecord): Map<string, string> => new Map(record.packages.map((p) => [p.split('=')[0] ?? p, p.split('=').slice(1).join('=')]));
  const old = versions(before);
  const now = versions(after);
  const changes: string[] = [];
  for (const name of new Set([...old.keys(), ...now.keys()])) {
    if (old.get(name) !== now.get(name)) changes.push(`${label} ${name}: ${old.get(name) ?? '(none)'} → ${now.get(name) ?? '(none)'}`);
  }
  return changes;
}

/**
 * Checks that a build is reproducible: builds the app twice from nothing (no kernel cache, no Go build cache,
 * separate out dirs) and compares every artifact byte for byte; or, with `against`, builds once and compares
 * with a published manifest.json (and its files, when they sit beside it).
 */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const { against, keep, onProgress, signal, ...buildOptions } = options;
  // One plan for both rounds; each round only gets an out dir of its own and no caches.
  const plan = planBuild({ ...buildOptions, cache: false }, await gatherHostFacts(buildOptions));
  let published: { manifest: Manifest; dir: string } | undefined;
  if (against !== undefined) {
    const dir = path.dirname(path.resolve(against));
    const manifest = path.basename(against) === 'manifest.json' ? await readManifest(dir) : undefined;
    if (!manifest) {
      throw new Gopid1Error('BAD_INPUT', `--against ${against} is not a gopid1 manifest.json`, { hint: 'Point --against at the manifest.json of a gopid1 build (its artifacts may sit beside it).' });
    }
    published = { manifest, dir };
  }
  const dirs: string[] = [];
  try {
    const rounds = published ? 1 : 2;
    const manifests: Manifest[] = [];
    for (let round = 1; round <= rounds; round++) {
      const out = await mkdtemp(path.join(os.tmpdir(), `gopid1-verify-${round}-`));
      dirs.push(out);
      const result = await executePlan({ ...plan, out }, { ...(onProgress ? { onProgress: (event: ProgressEvent) => onProgress(event, round) } : {}), ...(signal ? { signal } : {}) });
      manifests.push(result.manifest);
    }
    const [first, second] = manifests as [Manifest, Manifest | undefined];
    const artifacts = published
      ? await compareArtifacts(published.manifest, published.dir, first, dirs[0] ?? '')
      : await compareArtifacts(first, dirs[0], second ?? first, dirs[1] ?? '');
    const toolchainChanges = published
      ? [
          ...packageChanges('kernel builder', published.manifest.kernel.builder, first.kernel.builder),
          ...packageChanges('go builder', published.manifest.go.builder, first.go.builder),
          ...packageChanges('iso builder', published.manifest.iso?.builder, first.iso?.builder),
        ]
      : [];
    return { identical: artifacts.every((a) => a.identical), artifacts, toolchainChanges, dirs: keep ? dirs : [] };
  } finally {
    if (!keep) await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
