import path from 'node:path';
import { ContentCache } from '../artifacts/cache.js';
import { assembleManifest } from '../artifacts/assemble.js';
import type { Manifest } from '../artifacts/manifest.js';
import { noSpaceError, OutputDir } from '../artifacts/out.js';
import { connectEngine } from '../engine/engine.js';
import { throwIfAborted } from '../errors.js';
import { inspectApp, type AppFacts } from '../go/app.js';
import { buildGo, type GoBuildResult } from '../go/go-build.js';
import { builderCompressor } from '../go/compressor.js';
import { initramfsFileName } from '../initramfs/compress.js';
import { initConfigText, writeInitramfs, type InitramfsResult } from '../initramfs/layout.js';
import type { CpioEntry } from '../initramfs/newc.js';
import { directoryEntries } from '../initramfs/tree.js';
import { buildKernel } from '../kernel/kernel-build.js';
import { parseKernelSource, type KernelSource } from '../kernel/source.js';
import { buildDataDisk, type DataDiskBuildResult } from '../data/data-build.js';
import { diskOnce } from '../outputs/disk.js';
import { dataDiskFileName } from '../outputs/names.js';
import { envBlob } from '../plan/env.js';
import { ukiOnce } from '../outputs/uki.js';
import { PRODUCERS } from '../outputs/producers.js';
import { rawFileName, type OutputName } from '../outputs/table.js';
import type { OutputProduct } from '../outputs/product.js';
import { gatherHostFacts } from '../plan/host.js';
import type { BuildOptions } from '../plan/options.js';
import { planBuild, type BuildPlan } from '../plan/plan.js';
import { specRecord, type BuildSpec } from '../plan/spec-file.js';
import { dockerfilesDir, supervisorDir } from '../paths.js';
import { silent, type Reporter } from '../progress.js';
import type { StageContext } from '../stage.js';

export type { BuildOptions, BuildPlan };

export interface BuildResult {
  outDir: string;
  plan: BuildPlan;
  manifest: Manifest;
  durations: { kernelMs: number; goMs: number; initramfsMs: number; outputsMs: Partial<Record<OutputName, number>>; totalMs: number };
  /** Bytes of the supervising init (`--init supervise`): what it adds to the machine, before compression. */
  supervisorBytes?: number;
}

export interface RunOptions {
  onProgress?: Reporter;
  signal?: AbortSignal;
  /** The spec the manifest records, so that `build --spec manifest.json` builds the same machine again. */
  spec?: BuildSpec;
}

/** What a plan's inputs are on disk, checked before any container starts. */
interface Inputs {
  app: AppFacts;
  source: KernelSource;
  supervisor?: AppFacts;
}

/** The program (/init, or /app with gopid1's supervising init as /init), both at once when there are two. */
interface Programs {
  go: GoBuildResult;
  supervised?: GoBuildResult;
  /** The data disk (--data-disk), made after the programs while the kernel may still compile. */
  data?: DataDiskBuildResult;
}

/**
 * Runs two stages side by side. The first to fail stops the other (through the signal both get), and its
 * error is the one reported, not the other's "interrupted" or whatever the abort made of it.
 */
async function inParallel<A, B>(signal: AbortSignal | undefined, a: (signal: AbortSignal) => Promise<A>, b: (signal: AbortSignal) => Promise<B>): Promise<[A, B]> {
  const stages = new AbortController();
  const abort = (): void => stages.abort();
  signal?.addEventListener('abort', abort, { once: true });
  if (signal?.aborted) abort();
  let first: { error: unknown } | undefined;
  const guard = <T>(run: Promise<T>): Promise<T> =>
    run.catch((error: unknown) => {
      first ??= { error };
      abort();
      throw error;
    });
  try {
    const [ra, rb] = await Promise.allSettled([guard(a(stages.signal)), guard(b(stages.signal))]);
    if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
    throw first?.error ?? new Error('a build stage failed');
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

async function checkInputs(plan: BuildPlan): Promise<Inputs> {
  const app = await inspectApp(plan.app.dir, plan.program.importPath !== undefined ? '.' : plan.program.package, { test: plan.program.test ?? false });
  const source = await parseKernelSource(plan.kernel.source);
  const supervisor = plan.runtime.init === 'supervise' ? await inspectApp(supervisorDir, '.') : undefined;
  return { app, source, ...(supervisor ? { supervisor } : {}) };
}

/** The out dir, when it lies inside the app, is not copied into the Go builder. */
function excludedOutDir(plan: BuildPlan): string[] {
  const relative = path.relative(plan.app.dir, plan.out);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? [relative.split(path.sep).join('/')] : [];
}

async function buildPrograms(context: StageContext, plan: BuildPlan, inputs: Inputs): Promise<Programs> {
  const program = (signal: AbortSignal): Promise<GoBuildResult> =>
    buildGo({ ...context, signal }, { arch: plan.arch, app: inputs.app, ...plan.program, test: plan.program.test ?? false, useCache: plan.cache, exclude: excludedOutDir(plan), outName: inputs.supervisor ? 'app' : 'init', sourceDateEpoch: plan.sourceDateEpoch });
  if (!inputs.supervisor) return { go: await program(context.signal ?? new AbortController().signal) };
  // gopid1's own init: always stripped, never cgo, dated like the kernel (it does not follow the app).
  const supervisor = inputs.supervisor;
  const init = (signal: AbortSignal): Promise<GoBuildResult> =>
    buildGo({ ...context, signal }, { arch: plan.arch, app: supervisor, package: '.', cgo: false, strip: true, useCache: plan.cache, exclude: [], outName: 'init', supervisor: true, sourceDateEpoch: plan.kernel.sourceDateEpoch });
  const [go, supervised] = await inParallel(context.signal, program, init);
  return { go, supervised };
}

/** The programs, then the data disk when the plan has one (its template goes into the initramfs). */
async function buildProgramsAndData(context: StageContext, plan: BuildPlan, inputs: Inputs): Promise<Programs> {
  const programs = await buildPrograms(context, plan, inputs);
  const { dataDisk, user } = plan.runtime;
  if (!dataDisk) return programs;
  const owner = user ?? { uid: 0, gid: 0 };
  const data = await buildDataDisk(context, { name: plan.name, file: dataDiskFileName(plan.name), bytes: dataDisk.bytes, owner, sourceDateEpoch: plan.sourceDateEpoch });
  return { ...programs, data };
}

/**
 * `gopid1 test`: the package's directory goes into the machine, where its tests run (their working directory); the
 * directory of the packages' machines (the out dir's parent) stays out when it lies inside.
 */
async function packageTree(plan: BuildPlan): Promise<{ extra?: CpioEntry[] }> {
  if (!plan.program.test || plan.runtime.workdir === undefined) return {};
  const packageDir = path.join(plan.app.dir, plan.program.package);
  const machines = path.relative(packageDir, path.dirname(plan.out)).split(path.sep).join('/');
  const skip = machines !== '' && !machines.startsWith('..') && !path.isAbsolute(machines) ? new Set([machines]) : new Set<string>();
  return { extra: await directoryEntries(packageDir, plan.runtime.workdir.replace(/^\//, ''), skip) };
}

async function packInitramfs(context: StageContext, plan: BuildPlan, { go, supervised, data }: Programs): Promise<InitramfsResult> {
  const file = initramfsFileName(plan.initramfs.compression);
  context.report({ kind: 'step', stage: 'initramfs', text: `packing ${file}` });
  const { restart, health, watchdog, user, env, dataDisk, ipv6, metadata, workdir } = plan.runtime;
  const configured = restart.policy !== 'no' || health || watchdog || user || dataDisk || ipv6 || metadata || workdir !== undefined;
  const machine = { net: plan.runtime.net, hostname: plan.runtime.hostname, ...(user ? { user: { uid: user.uid, gid: user.gid } } : {}), ...(await packageTree(plan)) };
  const files = supervised
    ? { init: supervised.binary, app: go.binary, ...machine, ...(configured ? { initConfig: initConfigText(plan.runtime) } : {}), ...(env ? { env: envBlob(env) } : {}), ...(data ? { dataTemplate: data.template } : {}) }
    : { init: go.binary, ...machine };
  const initramfs = await writeInitramfs(files, context.out.staged(file), plan.sourceDateEpoch, builderCompressor(context, go.builder, plan.initramfs.compression, plan.cache));
  context.report({ kind: 'done', stage: 'initramfs', text: `initramfs packed (${initramfs.bytes} bytes, ${initramfs.unpackedBytes} unpacked)` });
  return initramfs;
}

/**
 * Builds an app into a bootable machine: plans the build (every default and check, once), then executes the plan.
 * Writes bzImage, init (+ app), initramfs.cpio.zst (or .xz, .gz), kernel.config, each chosen format and
 * manifest.json to the out dir only when everything succeeded.
 */
export async function build(options: BuildOptions & RunOptions): Promise<BuildResult> {
  const plan = planBuild(options, await gatherHostFacts(options));
  return executePlan(plan, { ...options, spec: specRecord(options, plan.app.dir) });
}

/** Executes a plan: the kernel and the program(s) in parallel, each in its builder, then the initramfs, then the formats. */
export async function executePlan(plan: BuildPlan, { onProgress, signal, spec }: RunOptions = {}): Promise<BuildResult> {
  const started = Date.now();
  const inputs = await checkInputs(plan);
  throwIfAborted(signal, 'build');
  const engine = await connectEngine();
  const out = await OutputDir.open(plan.out, { appDir: plan.app.dir, runId: engine.runId, force: plan.force });
  const context: StageContext = { engine, out, limits: plan.limits, cache: new ContentCache(), dockerfilesDir, report: onProgress ?? silent, ...(signal ? { signal } : {}) };
  try {
    const [kernel, programs] = await inParallel(
      signal,
      (signal) => buildKernel({ ...context, signal }, { ...plan.kernel, arch: plan.arch, source: inputs.source, useCache: plan.cache }),
      (signal) => buildProgramsAndData({ ...context, signal }, plan, inputs),
    );
    throwIfAborted(signal, 'build');
    const initramfsStarted = Date.now();
    const initramfs = await packInitramfs(context, plan, programs);
    const initramfsMs = Date.now() - initramfsStarted;
    const files = { bzImage: kernel.bzImage, initramfs: initramfs.path };
    const uki = ukiOnce(context, plan, files);
    const machine = { ...files, uki, disk: diskOnce(context, plan, { ...files, uki }, rawFileName(plan.name)) };
    const products: [OutputName, OutputProduct][] = [];
    for (const name of plan.outputs) products.push([name, await PRODUCERS[name](context, plan, machine)]);
    const manifest = await assembleManifest(plan, { staging: out.staging, app: inputs.app, supervisor: inputs.supervisor, kernel, ...programs, initramfs, products: products.map(([, product]) => product), ...(spec ? { spec } : {}) });
    throwIfAborted(signal, 'build');
    await out.commit(Object.values(manifest.artifacts).map((record) => record.file), manifest);
    const outputsMs = Object.fromEntries(products.map(([name, product]) => [name, product.durationMs]));
    return {
      outDir: out.dir,
      plan,
      manifest,
      durations: { kernelMs: kernel.durationMs, goMs: programs.go.durationMs, initramfsMs, outputsMs, totalMs: Date.now() - started },
      ...(programs.supervised ? { supervisorBytes: programs.supervised.bytes } : {}),
    };
  } catch (error) {
    // A full disk under the out dir, in whatever stage wrote there, is NO_SPACE naming it (API users too, not only the CLI).
    throw (await noSpaceError(error, { outDir: out.dir })) ?? error;
  } finally {
    await out.discard();
  }
}
