import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { hashKey } from '../artifacts/cache.js';
import { sha256, sha256File } from '../artifacts/files.js';
import { type BuilderImage, packDirectory, packFiles, packLocalFile } from '../engine/engine.js';
import { stageBuilder } from '../builders.js';
import { Gopid1Error, describeError } from '../errors.js';
import type { PlannedFragment } from '../plan/plan.js';
import { DEFAULT_SERIES, type KernelConfigBase } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import { configProblemsError, kernelCompressionOf, parseConfig, parseFragment, parseKconfigFacts, verifyConfig, type RequestedOption } from './kconfig.js';
import { describeSource, downloadKernelOrg, type KernelSource } from './source.js';

export interface KernelBuildOptions {
  /** The plan's source, resolved (a local path is a tarball or a tree). */
  source: KernelSource;
  base: KernelConfigBase;
  /** In order: the base's, generated ones, the outputs' needs, the user's. */
  fragments: readonly PlannedFragment[];
  /** Expected sha256 of a kernel.org tarball; default: kernel.org's sha256sums.asc. */
  sha256?: string;
  jobs: number;
  useCache: boolean;
  /** KBUILD_BUILD_TIMESTAMP comes from this. */
  sourceDateEpoch: number;
}

export interface KernelBuildResult {
  bzImage: string;
  config: string;
  /** `make kernelrelease`, e.g. 6.12.117 */
  release: string;
  source: string;
  /** sha256 of the source tarball, when the source is a file. */
  sourceSha256?: string;
  base: KernelConfigBase;
  fragments: { name: string; sha256: string }[];
  configSha256: string;
  /** How bzImage is compressed, read from the final .config. */
  compression: string;
  builder: BuilderImage;
  cached: boolean;
  durationMs: number;
}

interface Fragment {
  /** Name inside the builder: NN-<basename>.config, applied in name order. */
  name: string;
  label: string;
  text: string;
  options: RequestedOption[];
}

interface CachedKernelMeta {
  release: string;
  configSha256: string;
}

function fragmentSource(fragment: PlannedFragment, dockerfilesDir: string): { label: string; file: string; text?: string } {
  switch (fragment.origin) {
    case 'shipped':
      return { label: fragment.name, file: path.join(dockerfilesDir, 'kernel', 'fragments', fragment.name) };
    case 'generated':
      return { label: fragment.label, file: fragment.name, text: fragment.text };
    case 'user':
      return { label: fragment.path, file: fragment.path };
  }
}

async function loadFragments(planned: readonly PlannedFragment[], dockerfilesDir: string): Promise<Fragment[]> {
  const fragments: Fragment[] = [];
  for (const [index, fragment] of planned.entries()) {
    const { label, file, text: inline } = fragmentSource(fragment, dockerfilesDir);
    let text: string;
    try {
      text = inline ?? (await readFile(file, 'utf8'));
    } catch (error) {
      throw new Gopid1Error('BAD_INPUT', `cannot read kernel config fragment ${file}`, { hint: 'Check the path given to --kernel-fragment.', cause: error, field: 'kernelFragments' });
    }
    const base = path.basename(file).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/\.config$/, '');
    fragments.push({ name: `${String(index).padStart(2, '0')}-${base}.config`, label, text, options: parseFragment(text, label) });
  }
  return fragments;
}

const COMPILED = /^\s+(CC|AS|LD|AR|HOSTCC|HOSTLD|OBJCOPY|LDS)\s/;

/**
 * Builds bzImage in the kernel builder: configure (base + fragments, olddefconfig), verify that every option
 * the fragments ask for survived, compile. Unchanged inputs are served from the cache.
 */
export async function buildKernel(context: StageContext, options: KernelBuildOptions): Promise<KernelBuildResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const fragments = await loadFragments(options.fragments, context.dockerfilesDir);
  const series = options.source.kind === 'debian' ? options.source.series : DEFAULT_SERIES;
  const logFile = path.join(out.logs, 'kernel.log');

  const builder = await stageBuilder(engine, { stage: 'kernel', series, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });

  // The source: the builder's own linux-source, a kernel.org download, or a local tarball or tree.
  let tarball: string | undefined;
  let sourceSha256: string | undefined;
  if (options.source.kind === 'kernel.org') {
    report({ kind: 'step', stage: 'kernel', text: `downloading linux-${options.source.version}.tar.xz` });
    const download = await downloadKernelOrg(options.source.version, path.join(context.cache.root, 'downloads'), options.sha256, signal);
    tarball = download.path;
    sourceSha256 = download.sha256;
  } else if (options.source.kind === 'tarball') {
    tarball = options.source.path;
    sourceSha256 = await sha256File(tarball);
  }

  const fragmentIds = fragments.map((f) => ({ name: f.label, sha256: sha256(f.text) }));
  const key =
    options.source.kind === 'tree'
      ? undefined
      : hashKey({
          v: 1,
          source: options.source.kind === 'debian' ? describeSource(options.source) : sourceSha256,
          base: options.base,
          fragments: fragmentIds.map((f) => f.sha256),
          builder: builder.tag,
          packages: sha256(builder.packages.join('\n')),
          epoch: options.sourceDateEpoch,
        });
  const bzImage = out.staged('bzImage');
  const config = out.staged('kernel.config');
  const result = async (meta: CachedKernelMeta, cached: boolean): Promise<KernelBuildResult> => ({
    bzImage,
    config,
    ...meta,
    compression: kernelCompressionOf(await readFile(config, 'utf8')),
    source: describeSource(options.source),
    ...(sourceSha256 ? { sourceSha256 } : {}),
    base: options.base,
    fragments: fragmentIds,
    builder,
    cached,
    durationMs: Date.now() - started,
  });

  if (key && options.useCache) {
    const hit = await context.cache.get<CachedKernelMeta>('kernel', key);
    if (hit?.files.bzImage && hit.files['kernel.config']) {
      await copyFile(hit.files.bzImage, bzImage);
      await copyFile(hit.files['kernel.config'], config);
      report({ kind: 'done', stage: 'kernel', text: `kernel ${hit.meta.release} from the cache` });
      return await result(hit.meta, true);
    }
  }

  const volume = await engine.createVolume('kernel');
  const scratch = await mkdtemp(path.join(out.staging, 'kernel-'));
  try {
    const inputs: { path: string; archive: () => Readable }[] = [
      { path: '/work', archive: () => packFiles(fragments.map((f) => ({ name: `in/${f.name}`, data: f.text }))) },
    ];
    if (tarball) {
      const ext = tarball.endsWith('.tgz') ? 'tar.gz' : (/\.(tar(?:\.\w+)?)$/.exec(tarball)?.[1] ?? 'tar');
      const file = tarball;
      inputs.push({ path: '/work', archive: () => packLocalFile(file, `in/source.${ext}`) });
    } else if (options.source.kind === 'tree') {
      const tree = options.source.path;
      report({ kind: 'step', stage: 'kernel', text: `copying the source tree ${tree}` });
      inputs.push({ path: '/work', archive: () => packDirectory(tree, { prefix: 'src', skip: (p) => p === '.git' }) });
    }

    const userFragments = options.fragments.filter((f) => f.origin === 'user').length;
    report({ kind: 'step', stage: 'kernel', text: `configuring (${options.base}${userFragments ? ` + ${userFragments} fragment(s)` : ''})` });
    await engine.runStep({
      role: 'kernel-configure',
      title: 'kernel: configure',
      image: builder.id,
      cmd: ['kernel-step', 'configure', options.base === 'minimal' ? 'tinyconfig' : 'defconfig'],
      env: { SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
      volumes: { [volume.name]: '/work' },
      // Everything it writes is in the /work volume (and /tmp): the root filesystem is read-only.
      writable: [],
      limits: context.limits,
      inputs,
      outputs: ['.config', 'gopid1-kconfig-deps', 'gopid1-kernelrelease'].map((name) => ({ path: `/work/build/${name}`, dest: scratch })),
      logFile,
      onLine: (line) => report({ kind: 'line', stage: 'kernel', line }),
      ...(signal ? { signal } : {}),
    });
    const finalConfig = await readFile(path.join(scratch, '.config'), 'utf8');
    const facts = parseKconfigFacts(await readFile(path.join(scratch, 'gopid1-kconfig-deps'), 'utf8'));
    const problems = verifyConfig(
      fragments.flatMap((f) => f.options),
      parseConfig(finalConfig),
      facts,
    );
    if (problems.length > 0) throw configProblemsError(problems, logFile);
    const release = (await readFile(path.join(scratch, 'gopid1-kernelrelease'), 'utf8')).trim();

    report({ kind: 'step', stage: 'kernel', text: `compiling Linux ${release} with ${options.jobs} job(s)` });
    let compiled = 0;
    let lastReport = 0;
    await engine.runStep({
      role: 'kernel-compile',
      title: 'kernel: compile',
      image: builder.id,
      cmd: ['kernel-step', 'compile', String(options.jobs)],
      env: { SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
      volumes: { [volume.name]: '/work' },
      // Everything it writes is in the /work volume (and /tmp): the root filesystem is read-only.
      writable: [],
      limits: context.limits,
      outputs: [{ path: '/work/build/arch/x86/boot/bzImage', dest: scratch }],
      logFile,
      onLine: (line) => {
        report({ kind: 'line', stage: 'kernel', line });
        if (COMPILED.test(line)) {
          compiled += 1;
          const now = Date.now();
          if (now - lastReport > 250) {
            lastReport = now;
            report({ kind: 'count', stage: 'kernel', text: `${compiled} objects compiled` });
          }
        }
      },
      ...(signal ? { signal } : {}),
    });
    await copyFile(path.join(scratch, 'bzImage'), bzImage);
    await copyFile(path.join(scratch, '.config'), config);
    const configSha256 = sha256(finalConfig);
    if (key) {
      // The kernel is built; a cache that cannot take it (read-only home, full disk) only costs the next build.
      await context.cache.put<CachedKernelMeta>('kernel', key, { bzImage, 'kernel.config': config }, { release, configSha256 }).catch((error: unknown) => {
        report({ kind: 'warning', stage: 'kernel', text: `could not store the kernel in the cache ${context.cache.root}: ${describeError(error)}` });
      });
    }
    report({ kind: 'done', stage: 'kernel', text: `kernel ${release} compiled (${compiled} objects)` });
    return await result({ release, configSha256 }, false);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await volume.dispose();
  }
}
