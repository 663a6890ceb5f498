import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ContentCache } from '../artifacts/cache.js';
import { renderMarkdown, stats, type CompareReport, type ContainerFigures, type Stats } from '../compare/report.js';
import { renderSvg } from '../compare/report-svg.js';
import { buildVariant, imageTag } from '../compare/variant-images.js';
import { VARIANT_DESCRIPTIONS, VARIANT_NAMES, variantsFor, type VariantName } from '../compare/variants.js';
import { connectEngine, type Engine, type ImageSizes } from '../engine/engine.js';
import { Gopid1Error, describeError, throwIfAborted } from '../errors.js';
import type { Arch } from '../plan/vocabulary.js';
import { silent, type Reporter } from '../progress.js';
import type { AccelChoice } from '../qemu/command.js';
import { findQemu } from '../qemu/host-tools.js';
import { boot } from './boot.js';
import { build, type BuildOptions, type BuildResult } from './build.js';

export interface CompareOptions extends Omit<BuildOptions, 'onProgress' | 'signal'> {
  /** Which container images to build and measure (default: all four). */
  variants?: VariantName[];
  /** Measured runs of each figure (default 5); medians with min and max are reported. */
  runs?: number;
  /** How long each program runs after its first output while its memory is sampled (default 1000 ms). */
  windowMs?: number;
  accel?: AccelChoice;
  /** Keep the container images (tagged gopid1-compare-<name>:<variant>) instead of removing them. */
  keep?: boolean;
  onProgress?: Reporter;
  signal?: AbortSignal;
}

export interface CompareResult {
  report: CompareReport;
  /** compare.json, compare.md, compare.svg in the out dir. */
  files: { json: string; markdown: string; svg: string };
  build: BuildResult;
  /** Image tags kept with `keep`. */
  images: string[];
}

interface Variant {
  name: VariantName;
  tag: string;
  sizes: ImageSizes;
  firstOutputMs: number[];
  memoryBytes: number[];
}

const GUEST_MEMORY_NOTE =
  'VM memory is QEMU\'s peak resident set on the host (VmHWM): guest RAM the kernel and program touched, the initramfs and its unpacked copy, and QEMU itself. ' +
  'The guest\'s own view (MemTotal − MemAvailable) is not measured: only the program could print it. Container memory is the engine\'s stats (usage − inactive file cache), peak over the samples of each run.';

function checkOptions(options: CompareOptions): { variants: VariantName[]; runs: number; windowMs: number } {
  const arch = options.arch ?? 'amd64';
  const possible = variantsFor(arch);
  const variants = options.variants ?? [...possible.variants];
  for (const variant of variants) {
    if (!VARIANT_NAMES.includes(variant)) {
      throw new Gopid1Error('BAD_INPUT', `unknown container variant "${String(variant)}"`, { hint: `Pick from ${VARIANT_NAMES.join(', ')}, e.g. --variants scratch,debian-slim.` });
    }
    const why = possible.without[variant];
    if (why !== undefined) throw new Gopid1Error('BAD_INPUT', `the ${variant} variant is not available for ${arch} builds: ${why}`, { hint: `Compare with --variants ${possible.variants.join(',')}.` });
  }
  if (new Set(variants).size !== variants.length) throw new Gopid1Error('BAD_INPUT', `--variants names one twice: ${variants.join(',')}`, { hint: 'Name each variant once.' });
  const runs = options.runs ?? 5;
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Gopid1Error('BAD_INPUT', `--runs must be a whole number from 1 to 100, not ${runs}`, { hint: 'e.g. --runs 5' });
  const windowMs = options.windowMs ?? 1000;
  if (!Number.isInteger(windowMs) || windowMs < 0 || windowMs > 60_000) throw new Gopid1Error('BAD_INPUT', `--window must be 0 to 60000 ms, not ${windowMs}`, { hint: 'e.g. --window 1000' });
  return { variants, runs, windowMs };
}

/** The options that say what to build: all of them but compare's own. */
function buildOptionsOf(options: CompareOptions): BuildOptions {
  const build: BuildOptions & Partial<Record<keyof CompareOptions, unknown>> = { ...options };
  for (const key of ['variants', 'runs', 'windowMs', 'accel', 'keep', 'onProgress', 'signal'] as const) delete build[key];
  return build;
}

/** Writes a file next to its final path and renames it into place. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o644 });
  await rename(temp, file);
}

async function qemuVersion(): Promise<string> {
  try {
    const qemu = await findQemu();
    const result = await execa(qemu, ['--version'], { reject: false });
    return String(result.stdout).split('\n')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function missingStats(): Stats {
  return { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] };
}

interface VmFigures {
  firstLineMs: number[];
  peakRssBytes: number[];
  accel: 'kvm' | 'tcg';
  accelReason: string;
}

/** The comparison's shared context: its engine, the build it compares, what it reports to. */
interface Session {
  engine: Engine;
  options: CompareOptions;
  built: BuildResult;
  report: Reporter;
  /** The build's architecture: the images are built for linux/<arch>. */
  arch: Arch;
  /** Why the engine cannot run images of that architecture; undefined when it can. */
  cannotRun?: string;
}

/**
 * Why the engine cannot run linux/<arch> images: undefined when it is that architecture, or, for a local engine,
 * when binfmt_misc emulates it (qemu-user registered as qemu-aarch64).
 */
async function cannotRunImages(engine: Engine, arch: Arch): Promise<string | undefined> {
  if (engine.serverArch === arch) return undefined;
  if (arch === 'arm64' && engine.endpoint.startsWith('unix://')) {
    const entry = await readFile('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8').catch(() => '');
    if (entry.startsWith('enabled')) return undefined;
  }
  return `the engine is ${engine.serverArch} and cannot run linux/${arch} images (no binfmt_misc emulation of ${arch}), so only the images' sizes are compared`;
}

function signalOf(options: CompareOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/** Builds each variant's container image and measures its size. */
async function buildVariants(session: Session, variants: VariantName[], work: string): Promise<Variant[]> {
  const { engine, options, built, report } = session;
  const { manifest, outDir } = built;
  const program = path.join(outDir, (manifest.artifacts.app ?? manifest.artifacts.init).file);
  const logFile = path.join(outDir, 'logs', 'compare.log');
  const cache = new ContentCache();
  const made: Variant[] = [];
  for (const name of variants) {
    const tag = imageTag(manifest.name, name);
    await buildVariant(engine, name, { work, tag, program, manifest, outDir, appDir: options.app, platform: `linux/${session.arch}`, logFile, cache, report, ...signalOf(options) });
    report({ kind: 'step', stage: 'compare', text: `measuring the ${name} image (docker save, gzip)` });
    const sizes = await engine.imageSizes(tag, options.signal);
    made.push({ name, tag, sizes, firstOutputMs: [], memoryBytes: [] });
    report({ kind: 'done', stage: 'compare', text: `${name} image built (${sizes.bytes} bytes)` });
  }
  return made;
}

/** One boot of the VM to its first line, added to `vm`. */
async function measureVm(session: Session, windowMs: number, vm: VmFigures): Promise<void> {
  const { options, built } = session;
  const booted = await boot({ dir: built.outDir, accel: options.accel ?? 'auto', timeoutSeconds: 120, firstOutputWindowMs: windowMs, ...signalOf(options) });
  if (booted.outcome !== 'first-output' || booted.firstLineMs === undefined) {
    throw new Gopid1Error('COMPARE_FAILED', `the VM ${booted.outcome === 'exited' ? `ended (status ${booted.exitStatus ?? booted.exitSignal}) ` : ''}without the program printing anything`, {
      step: 'compare: boot',
      logFile: booted.serialLog,
      hint: 'gopid1 compare times the program to its first line of output: the program must print something when it starts.',
    });
  }
  vm.firstLineMs.push(booted.firstLineMs);
  if (booted.hostPeakRssBytes !== undefined) vm.peakRssBytes.push(booted.hostPeakRssBytes);
  vm.accel = booted.accel;
  vm.accelReason = booted.accelReason;
}

/** `runs` rounds, interleaved: the VM, then each container, so drift on the host touches all alike. */
async function measureRuns(session: Session, made: Variant[], runs: number, windowMs: number): Promise<VmFigures> {
  const { engine, options, built, report } = session;
  const vm: VmFigures = { firstLineMs: [], peakRssBytes: [], accel: 'tcg', accelReason: '' };
  const network = built.manifest.boot.net ? 'bridge' : 'none';
  for (let run = 1; run <= runs; run++) {
    report({ kind: 'step', stage: 'compare', text: `run ${run} of ${runs}: the VM` });
    await measureVm(session, windowMs, vm);
    if (session.cannotRun !== undefined) continue;
    for (const variant of made) {
      report({ kind: 'step', stage: 'compare', text: `run ${run} of ${runs}: the ${variant.name} container` });
      const ran = await engine.runToFirstOutput({ image: variant.tag, role: `compare-${variant.name}`, network, windowMs, timeoutMs: 60_000, ...signalOf(options) });
      variant.firstOutputMs.push(ran.firstOutputMs);
      if (ran.peakMemoryBytes !== undefined) variant.memoryBytes.push(ran.peakMemoryBytes);
    }
  }
  return vm;
}

function containerFigures(variant: Variant): ContainerFigures & { image: string } {
  const start = variant.firstOutputMs.length > 0 ? stats(variant.firstOutputMs) : missingStats();
  const memory = variant.memoryBytes.length > 0 ? stats(variant.memoryBytes) : missingStats();
  return {
    variant: variant.name,
    description: VARIANT_DESCRIPTIONS[variant.name],
    image: variant.tag,
    imageBytes: variant.sizes.bytes,
    savedBytes: variant.sizes.savedBytes,
    savedGzipBytes: variant.sizes.savedGzipBytes,
    startToFirstOutputMs: start.median,
    memoryBytes: memory.median,
    startToFirstOutput: start,
    memory,
  };
}

type FullReport = CompareReport & { windowMs: number; network: string };

async function assembleReport(session: Session, vm: VmFigures, made: Variant[], runs: number, windowMs: number): Promise<FullReport> {
  const { manifest } = session.built;
  const boots = stats(vm.firstLineMs);
  const rss = vm.peakRssBytes.length > 0 ? stats(vm.peakRssBytes) : missingStats();
  const cpus = os.cpus();
  return {
    app: manifest.name,
    arch: session.arch,
    ...(session.cannotRun !== undefined ? { containersNote: session.cannotRun } : {}),
    runs,
    accel: vm.accel,
    accelReason: vm.accelReason,
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, docker: session.engine.serverVersion, qemu: await qemuVersion() },
    measuredAt: new Date().toISOString(),
    windowMs,
    network: manifest.boot.net ? 'bridge' : 'none',
    vm: {
      kernelBytes: manifest.artifacts.bzImage.bytes,
      initramfsBytes: manifest.artifacts.initramfs.bytes,
      isoBytes: manifest.artifacts.iso?.bytes ?? null,
      bootToFirstOutputMs: boots.median,
      hostRssBytes: rss.median,
      bootToFirstOutput: boots,
      hostRss: rss,
      guestMemoryNote: GUEST_MEMORY_NOTE,
    },
    containers: made.map(containerFigures),
  };
}

async function writeReport(outDir: string, result: FullReport): Promise<CompareResult['files']> {
  const files = { json: path.join(outDir, 'compare.json'), markdown: path.join(outDir, 'compare.md'), svg: path.join(outDir, 'compare.svg') };
  await writeAtomic(files.json, `${JSON.stringify(result, null, 2)}\n`);
  await writeAtomic(files.markdown, renderMarkdown(result));
  await writeAtomic(files.svg, renderSvg(result));
  return files;
}

/** Removes the comparison's images; one that cannot be removed is a warning, not a failure. */
async function removeVariants(session: Session, variants: VariantName[]): Promise<void> {
  for (const variant of variants) {
    const tag = imageTag(session.built.manifest.name, variant);
    await session.engine.removeImage(tag).catch((error: unknown) => {
      session.report({ kind: 'warning', stage: 'compare', text: `could not remove ${tag}: ${describeError(error)}` });
    });
  }
}

/**
 * Builds the app (what is missing: the kernel comes from the cache), builds the same program as container
 * images, and measures the VM and every image side by side, `runs` times each, interleaved: size, start →
 * first output, memory. Writes compare.json, compare.md and compare.svg to the out dir.
 */
export async function compare(options: CompareOptions): Promise<CompareResult> {
  const { variants, runs, windowMs } = checkOptions(options);
  const report = options.onProgress ?? silent;
  const built = await build({ ...buildOptionsOf(options), onProgress: report, ...signalOf(options) });
  throwIfAborted(options.signal, 'compare');
  const engine = await connectEngine();
  const arch = built.manifest.plan?.arch === 'arm64' ? 'arm64' : 'amd64';
  const cannotRun = await cannotRunImages(engine, arch);
  if (cannotRun !== undefined) report({ kind: 'warning', stage: 'compare', text: cannotRun });
  const session: Session = { engine, options, built, report, arch, ...(cannotRun !== undefined ? { cannotRun } : {}) };
  const work = await mkdtemp(path.join(os.tmpdir(), 'gopid1-compare-'));
  try {
    const made = await buildVariants(session, variants, work);
    const vm = await measureRuns(session, made, runs, windowMs);
    const result = await assembleReport(session, vm, made, runs, windowMs);
    const files = await writeReport(built.outDir, result);
    report({ kind: 'done', stage: 'compare', text: `measured the VM and ${made.length} image(s), ${runs} run(s) each` });
    return { report: result, files, build: built, images: options.keep ? made.map((v) => v.tag) : [] };
  } finally {
    await rm(work, { recursive: true, force: true });
    if (!options.keep) await removeVariants(session, variants);
  }
}
