import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { hashKey } from '../artifacts/cache.js';
import { sha256, sha256File } from '../artifacts/files.js';
import { type BuilderImage, packDirectory, packFiles, packLocalFile, type StepInput, type StepOutput } from '../engine/engine.js';
import { stageBuilder } from '../builders.js';
import { Gopid1Error, describeError } from '../errors.js';
import type { PlannedFragment } from '../plan/plan.js';
import { ARCH_FACTS, DEFAULT_SERIES, type Arch, type KernelConfigBase } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import { configProblemsError, kernelCompressionOf, parseConfig, parseFragment, parseKconfigFacts, verifyConfig, type RequestedOption } from './kconfig.js';
import { describeSource, downloadKernelOrg, type KernelSource } from './source.js';

export interface KernelBuildOptions {
  arch: Arch;
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
  /** The kernel image: bzImage (amd64) or Image (arm64). */
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

/** Where the kernel source comes from, for the builder: a tarball to copy in (and its hash), or none (a tree, the builder's own). */
async function resolveSource(context: StageContext, options: KernelBuildOptions): Promise<{ tarball?: string; sourceSha256?: string }> {
  const { source } = options;
  if (source.kind === 'kernel.org') {
    context.report({ kind: 'step', stage: 'kernel', text: `downloading linux-${source.version}.tar.xz` });
    const download = await downloadKernelOrg(source.version, path.join(context.cache.root, 'downloads'), options.sha256, context.signal);
    return { tarball: download.path, sourceSha256: download.sha256 };
  }
  if (source.kind === 'tarball') return { tarball: source.path, sourceSha256: await sha256File(source.path) };
  return {};
}

/** What the configure step gets in /work: the fragments, and the source unless the builder's own is used. */
function configureInputs(context: StageContext, options: KernelBuildOptions, fragments: Fragment[], tarball: string | undefined): StepInput[] {
  const inputs: StepInput[] = [{ path: '/work', archive: () => packFiles(fragments.map((f) => ({ name: `in/${f.name}`, data: f.text }))) }];
  if (tarball) {
    const ext = tarball.endsWith('.tgz') ? 'tar.gz' : (/\.(tar(?:\.\w+)?)$/.exec(tarball)?.[1] ?? 'tar');
    inputs.push({ path: '/work', archive: () => packLocalFile(tarball, `in/source.${ext}`) });
  } else if (options.source.kind === 'tree') {
    const tree = options.source.path;
    context.report({ kind: 'step', stage: 'kernel', text: `copying the source tree ${tree}` });
    inputs.push({ path: '/work', archive: () => packDirectory(tree, { prefix: 'src', skip: (p) => p === '.git' }) });
  }
  return inputs;
}

/** A step of the kernel builder on the build's /work volume (everything it writes is there and in /tmp). */
function kernelStep(context: StageContext, run: { builder: BuilderImage; volume: string; logFile: string; options: KernelBuildOptions }, step: { role: string; title: string; cmd: string[]; inputs?: StepInput[]; outputs: StepOutput[]; onLine?: (line: string) => void }): Promise<unknown> {
  const { signal, report } = context;
  return context.engine.runStep({
    ...step,
    image: run.builder.id,
    env: { SOURCE_DATE_EPOCH: String(run.options.sourceDateEpoch), GOPID1_KERNEL_ARCH: ARCH_FACTS[run.options.arch].kernelArch },
    volumes: { [run.volume]: '/work' },
    writable: [],
    limits: context.limits,
    logFile: run.logFile,
    onLine: step.onLine ?? ((line) => report({ kind: 'line', stage: 'kernel', line })),
    ...(signal ? { signal } : {}),
  });
}

/** Reads what configure sent back: the final .config, checked against every option the fragments asked for, and the release. */
async function configured(scratch: string, fragments: Fragment[], logFile: string): Promise<{ finalConfig: string; release: string }> {
  const finalConfig = await readFile(path.join(scratch, '.config'), 'utf8');
  const facts = parseKconfigFacts(await readFile(path.join(scratch, 'gopid1-kconfig-deps'), 'utf8'));
  const problems = verifyConfig(fragments.flatMap((f) => f.options), parseConfig(finalConfig), facts);
  if (problems.length > 0) throw configProblemsError(problems, logFile);
  return { finalConfig, release: (await readFile(path.join(scratch, 'gopid1-kernelrelease'), 'utf8')).trim() };
}

/** Reports the compile's progress as a count of objects, at most four times a second. */
function compileCounter(context: StageContext): { onLine: (line: string) => void; count: () => number } {
  let compiled = 0;
  let lastReport = 0;
  return {
    count: () => compiled,
    onLine: (line) => {
      context.report({ kind: 'line', stage: 'kernel', line });
      if (!COMPILED.test(line)) return;
      compiled += 1;
      const now = Date.now();
      if (now - lastReport > 250) {
        lastReport = now;
        context.report({ kind: 'count', stage: 'kernel', text: `${compiled} objects compiled` });
      }
    },
  };
}

/** The cache key of a kernel: everything that decides its bytes (a source tree is never cached). */
function kernelCacheKey(options: KernelBuildOptions, builder: BuilderImage, sourceSha256: string | undefined, fragmentIds: Array<{ sha256: string }>): string | undefined {
  if (options.source.kind === 'tree') return undefined;
  return hashKey({
    v: 1,
    ...(options.arch === 'amd64' ? {} : { arch: options.arch }),
    source: options.source.kind === 'debian' ? describeSource(options.source) : sourceSha256,
    base: options.base,
    fragments: fragmentIds.map((f) => f.sha256),
    builder: builder.tag,
    packages: sha256(builder.packages.join('\n')),
    epoch: options.sourceDateEpoch,
  });
}

/** The staged kernel image and config, and where they go. */
interface KernelFiles {
  imageName: string;
  image: string;
  config: string;
}

/** Configures and compiles in the kernel builder; stages the image and the config. */
async function configureAndCompile(context: StageContext, options: KernelBuildOptions, inputs: { builder: BuilderImage; fragments: Fragment[]; tarball: string | undefined }, files: KernelFiles): Promise<CachedKernelMeta> {
  const { report, out } = context;
  const volume = await context.engine.createVolume('kernel');
  const scratch = await mkdtemp(path.join(out.staging, 'kernel-'));
  const logFile = path.join(out.logs, 'kernel.log');
  const run = { builder: inputs.builder, volume: volume.name, logFile, options };
  try {
    const userFragments = options.fragments.filter((f) => f.origin === 'user').length;
    report({ kind: 'step', stage: 'kernel', text: `configuring (${options.base}${userFragments ? ` + ${userFragments} fragment(s)` : ''}${options.arch === 'amd64' ? '' : `, ${options.arch}`})` });
    await kernelStep(context, run, {
      role: 'kernel-configure',
      title: 'kernel: configure',
      cmd: ['kernel-step', 'configure', options.base === 'minimal' ? 'tinyconfig' : 'defconfig'],
      inputs: configureInputs(context, options, inputs.fragments, inputs.tarball),
      outputs: ['.config', 'gopid1-kconfig-deps', 'gopid1-kernelrelease'].map((name) => ({ path: `/work/build/${name}`, dest: scratch })),
    });
    const { finalConfig, release } = await configured(scratch, inputs.fragments, logFile);
    report({ kind: 'step', stage: 'kernel', text: `compiling Linux ${release} with ${options.jobs} job(s)` });
    const counter = compileCounter(context);
    await kernelStep(context, run, {
      role: 'kernel-compile',
      title: 'kernel: compile',
      cmd: ['kernel-step', 'compile', String(options.jobs)],
      outputs: [{ path: `/work/build/arch/${ARCH_FACTS[options.arch].kernelArch}/boot/${files.imageName}`, dest: scratch }],
      onLine: counter.onLine,
    });
    await copyFile(path.join(scratch, files.imageName), files.image);
    await copyFile(path.join(scratch, '.config'), files.config);
    report({ kind: 'done', stage: 'kernel', text: `kernel ${release} compiled (${counter.count()} objects)` });
    return { release, configSha256: sha256(finalConfig) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await volume.dispose();
  }
}

/** The cached kernel of this key, staged; undefined when there is none. */
async function fromCache(context: StageContext, key: string, files: KernelFiles): Promise<CachedKernelMeta | undefined> {
  const hit = await context.cache.get<CachedKernelMeta>('kernel', key);
  const image = hit?.files[files.imageName];
  const config = hit?.files['kernel.config'];
  if (!hit || !image || !config) return undefined;
  await copyFile(image, files.image);
  await copyFile(config, files.config);
  context.report({ kind: 'done', stage: 'kernel', text: `kernel ${hit.meta.release} from the cache` });
  return hit.meta;
}

/** The kernel is built; a cache that cannot take it (read-only home, full disk) only costs the next build. */
async function storeInCache(context: StageContext, key: string, files: KernelFiles, meta: CachedKernelMeta): Promise<void> {
  await context.cache.put<CachedKernelMeta>('kernel', key, { [files.imageName]: files.image, 'kernel.config': files.config }, meta).catch((error: unknown) => {
    context.report({ kind: 'warning', stage: 'kernel', text: `could not store the kernel in the cache ${context.cache.root}: ${describeError(error)}` });
  });
}

/**
 * Builds the kernel image (bzImage, or Image on arm64) in the kernel builder: configure (base + fragments,
 * olddefconfig), verify that every option the fragments ask for survived, compile. Unchanged inputs are served from
 * the cache.
 */
export async function buildKernel(context: StageContext, options: KernelBuildOptions): Promise<KernelBuildResult> {
  const started = Date.now();
  const { engine, report, signal, out } = context;
  const fragments = await loadFragments(options.fragments, context.dockerfilesDir);
  const series = options.source.kind === 'debian' ? options.source.series : DEFAULT_SERIES;
  const builder = await stageBuilder(engine, { stage: 'kernel', series, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const { tarball, sourceSha256 } = await resolveSource(context, options);
  const fragmentIds = fragments.map((f) => ({ name: f.label, sha256: sha256(f.text) }));
  const imageName = ARCH_FACTS[options.arch].kernelImage;
  const files: KernelFiles = { imageName, image: out.staged(imageName), config: out.staged('kernel.config') };
  const key = kernelCacheKey(options, builder, sourceSha256, fragmentIds);
  const cached = key && options.useCache ? await fromCache(context, key, files) : undefined;
  const meta = cached ?? (await configureAndCompile(context, options, { builder, fragments, tarball }, files));
  if (key && !cached) await storeInCache(context, key, files, meta);
  return {
    bzImage: files.image,
    config: files.config,
    ...meta,
    compression: kernelCompressionOf(await readFile(files.config, 'utf8')),
    source: describeSource(options.source),
    ...(sourceSha256 ? { sourceSha256 } : {}),
    base: options.base,
    fragments: fragmentIds,
    builder,
    cached: cached !== undefined,
    durationMs: Date.now() - started,
  };
}
