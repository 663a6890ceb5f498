import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BUILDER_UID, type BuilderImage, type Engine, packDirectory, type RunVolume, type StepInput, type StepOptions } from '../engine/engine.js';
import { stageBuilder } from '../builders.js';
import { Gopid1Error } from '../errors.js';
import { DEFAULT_SERIES, type Arch } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import type { AppFacts } from './app.js';
import { checkStaticInit } from './elf.js';
import { type CachedGoMeta, goCacheKey, goFromCache, goToCache, sourceSkip } from './go-cache.js';

/** The Docker volume that keeps Go's module and build caches between runs, owned by the builder's unprivileged user. */
export const GO_CACHE_VOLUME = `gopid1-go-cache-${BUILDER_UID}`;
/** The module cache: written by the download step (with network) alone, read-only to the compile. */
export const GO_MODCACHE_VOLUME = `gopid1-go-modcache-${BUILDER_UID}`;
/** Earlier cache volumes, written by builders that ran as root: removed when the new one is made. */
const LEGACY_GO_CACHE_VOLUMES = ['gopid1-go-cache'];

export interface GoBuildOptions {
  /** GOARCH: the machine's architecture. */
  arch: Arch;
  /** The app, as inspectApp found it. */
  app: AppFacts;
  /** The main package, relative to appDir ("." or "./cmd/server"). */
  package: string;
  cgo: boolean;
  /** Go build tags (`-tags`); with cgo, go-step adds netgo and osusergo. */
  tags?: readonly string[];
  /** -ldflags=-s -w */
  strip: boolean;
  /** Use Go's build and module cache volume; without it the build starts from nothing. */
  useCache: boolean;
  /** Paths under appDir (relative, forward slashes) not to copy into the builder, e.g. the out dir. */
  exclude: string[];
  /** File name of the binary in the out dir's staging directory: "init" (it is PID 1) or "app" (under the supervising init). */
  outName: 'init' | 'app';
  /** This is gopid1's own supervising init, not the user's program (its own log and messages). */
  supervisor?: boolean;
  /** Build the package's test binary (`go test -c`, same flags) instead of the program: `gopid1 test`. */
  test?: boolean;
  /** With test: a package outside the module by its import path (the standard library's, a dependency's). */
  importPath?: string;
  sourceDateEpoch: number;
}

export interface GoBuildResult {
  /** Path of the binary. */
  binary: string;
  bytes: number;
  /** `go version` of the builder, e.g. "go1.24.4 linux/amd64" */
  goVersion: string;
  builder: BuilderImage;
  /** The compile's network: always none. */
  network: 'none';
  /** Modules that are not vendored were fetched first, by a step of their own with this network. */
  downloadNetwork?: 'bridge';
  ldflags: string;
  /** Served from gopid1's cache: nothing that goes into the binary changed since it was built. */
  cached: boolean;
  durationMs: number;
}

/** -ldflags for `go build`: no build id (reproducible), optionally stripped, and static linking for cgo. */
export function goLdflags(options: { strip: boolean; cgo: boolean }): string {
  return ['-buildid=', ...(options.strip ? ['-s', '-w'] : []), ...(options.cgo ? ['-linkmode=external', '-extldflags=-static'] : [])].join(' ');
}

/** A Go step's log tail without what go-step prints about itself (command, version, sandbox, cgroup): the tool's own lines. */
export function withoutStepHeader(tail: string[]): string[] {
  return tail.filter((line) => !/^(\$ |go version |# exit code |gopid1: cgroup |gopid1: sandbox: )/.test(line));
}

/** The download step's environment: the module proxy settings of this process, passed through. */
function fetchEnvironment(): Record<string, string> {
  const env: Record<string, string> = { GOCACHE: '/tmp/go-build' };
  for (const name of ['GOPROXY', 'GOPRIVATE', 'GONOPROXY', 'GONOSUMDB', 'GOSUMDB', 'GOINSECURE']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** The error of a module download that failed. */
function downloadFailure(app: AppFacts, logFile: string): (exitCode: number, tail: string[]) => Gopid1Error {
  return (exitCode, tail) =>
    new Gopid1Error('STEP_FAILED', `the modules ${app.module} requires could not be downloaded (go mod download exit code ${exitCode})`, {
      step: 'go: download modules',
      exitCode,
      logTail: withoutStepHeader(tail),
      logFile,
      hint: 'Make the module proxy reachable from containers (GOPROXY, GOPRIVATE, GONOSUMDB and GOINSECURE are passed through), or vendor the modules with `go mod vendor` so no network is needed.',
    });
}

/** The error of a compile that failed: the compiler's lines, and a hint for the causes seen most (cgo, Go version, modules). */
export function compileFailure(app: AppFacts, options: GoBuildOptions, logFile: string): (exitCode: number, tail: string[]) => Gopid1Error {
  return (exitCode, tail) => {
    const compilerLines = withoutStepHeader(tail);
    const cgoHint = app.usesCgo && !options.cgo ? ' This package imports "C": pass --cgo for a static cgo build.' : '';
    const tooNew = compilerLines.map((line) => /requires go >= ?([\d.]+) \(running go ([\d.]+)/.exec(line)).find(Boolean);
    const versionHint = tooNew
      ? ` go.mod asks for Go ${tooNew[1]}, and the Go builder has Go ${tooNew[2]} (Debian's package; toolchain downloads are off): lower the go line in go.mod.`
      : '';
    const networkHint = compilerLines.some((line) => /GOPROXY=off|cannot find module|missing go.sum entry/.test(line))
      ? app.vendored
        ? ' vendor/ lacks a module the build needs: run `go mod vendor` again.'
        : ' A module the build needs is not in go.mod or go.sum: run `go mod tidy` (and `go mod vendor` to build without network).'
      : '';
    return new Gopid1Error('GO_COMPILE_FAILED', `${options.supervisor ? 'gopid1\'s supervising init' : 'the Go program'} does not build (go build exit code ${exitCode})`, {
      step: options.supervisor ? 'go: build the supervising init' : 'go: build',
      exitCode,
      logTail: compilerLines,
      logFile,
      hint: options.supervisor
        ? 'The supervising init ships with gopid1 (its init/ directory): reinstall gopid1, or build with --init direct.'
        : `Fix the compiler errors above and build again.${versionHint}${cgoHint}${networkHint}`,
    });
  };
}

/** Where the steps keep modules and the build cache: the cache volumes, a volume of this run, or the step's /tmp. */
export interface GoVolumes {
  /** Modules that are not vendored are fetched first, by a step of their own. */
  fetch: boolean;
  env: Record<string, string>;
  buildVolumes: Record<string, string>;
  modules: Record<string, string>;
  runVolume?: RunVolume;
}

/**
 * Modules that are not vendored are fetched first by a step of their own, the only one with network, into the
 * module cache alone; the compile never has any (GOPROXY=off) and reads that cache read-only. Without the cache
 * volumes the modules go through a volume of this run, and the build cache stays in the compile's /tmp.
 */
async function goVolumes(engine: Engine, options: GoBuildOptions): Promise<GoVolumes> {
  const cacheVolume = options.useCache ? await engine.ensureVolume(GO_CACHE_VOLUME, 'go', { replaces: LEGACY_GO_CACHE_VOLUMES }) : undefined;
  const fetch = options.app.hasRequires && !options.app.vendored;
  const runVolume = fetch && !cacheVolume ? await engine.createVolume('go-modules') : undefined;
  const moduleVolume = !fetch ? undefined : cacheVolume ? await engine.ensureVolume(GO_MODCACHE_VOLUME, 'go') : runVolume?.name;
  return {
    fetch,
    env: { ...(cacheVolume ? {} : { GOCACHE: '/tmp/go-build' }), ...(moduleVolume ? {} : { GOMODCACHE: '/tmp/go-mod' }) },
    buildVolumes: cacheVolume ? { [cacheVolume]: '/cache' } : {},
    modules: moduleVolume ? { [moduleVolume]: '/modcache' } : {},
    ...(runVolume ? { runVolume } : {}),
  };
}

/** What the Go steps share: image, environment, source, log and limits. */
export interface GoStep {
  image: string;
  env: Record<string, string>;
  source: () => StepInput;
  logFile: string;
}

function goStep(context: StageContext, options: GoBuildOptions, image: string, volumes: GoVolumes): GoStep {
  return {
    image,
    env: {
      GOPID1_PACKAGE: options.importPath ?? (options.package.startsWith('.') ? options.package : `./${options.package}`),
      GOPID1_CGO: options.cgo ? '1' : '0',
      ...(options.tags?.length ? { GOPID1_TAGS: options.tags.join(',') } : {}),
      GOPID1_LDFLAGS: goLdflags(options),
      GOPID1_GOARCH: options.arch,
      ...(options.test ? { GOPID1_TEST: '1' } : {}),
      SOURCE_DATE_EPOCH: String(options.sourceDateEpoch),
      ...volumes.env,
    },
    source: () => ({ path: '/src', archive: () => packDirectory(options.app.dir, { skip: sourceSkip(options) }) }),
    logFile: path.join(context.out.logs, options.supervisor ? 'go-supervisor.log' : 'go.log'),
  };
}

async function downloadModules(context: StageContext, options: GoBuildOptions, step: GoStep, volumes: GoVolumes): Promise<void> {
  const { report, signal } = context;
  report({ kind: 'step', stage: 'go', text: `downloading the modules ${options.app.module} requires` });
  await context.engine.runStep({
    role: 'go-download',
    title: 'go: download modules',
    image: step.image,
    cmd: ['go-step', 'download'],
    env: { ...step.env, ...fetchEnvironment() },
    network: 'bridge',
    limits: context.limits,
    volumes: volumes.modules,
    writable: ['/src', '/out'],
    inputs: [step.source()],
    logFile: step.logFile,
    onLine: (line) => report({ kind: 'line', stage: 'go', line }),
    ...(signal ? { signal } : {}),
    onFailure: downloadFailure(options.app, step.logFile),
  });
}

/**
 * What every Go step after the download shares: the builder, no network (GOPROXY=off), the build cache, the module
 * cache read-only, the app's source in /src, the log.
 */
export function offlineStep(context: StageContext, step: GoStep, volumes: GoVolumes): Pick<StepOptions, 'image' | 'network' | 'limits' | 'volumes' | 'writable' | 'readOnlyVolumes' | 'inputs' | 'logFile' | 'signal'> {
  return {
    image: step.image,
    network: 'none',
    limits: context.limits,
    volumes: volumes.buildVolumes,
    writable: ['/src', '/out'],
    readOnlyVolumes: volumes.modules,
    inputs: [step.source()],
    logFile: step.logFile,
    ...(context.signal ? { signal: context.signal } : {}),
  };
}

async function compile(context: StageContext, options: GoBuildOptions, step: GoStep, volumes: GoVolumes, scratch: string): Promise<void> {
  const { report } = context;
  const { app } = options;
  const what = options.supervisor ? 'the supervising init ' : options.test ? 'the tests of ' : '';
  const name = options.importPath ?? `${app.module}${options.package === '.' ? '' : `/${options.package.replace(/^\.\//, '')}`}`;
  report({ kind: 'step', stage: 'go', text: `compiling ${what}${name}` });
  await context.engine.runStep({
    role: options.supervisor ? 'go-build-supervisor' : 'go-build',
    title: options.supervisor ? 'go: build the supervising init' : 'go: build',
    ...offlineStep(context, step, volumes),
    cmd: ['go-step', 'build'],
    env: { ...step.env, GOPROXY: 'off' },
    outputs: [{ path: '/out', dest: scratch }],
    onLine: (line) => report({ kind: 'line', stage: 'go', line }),
    onFailure: compileFailure(app, options, step.logFile),
  });
}

/** Checks the compiled binary and stages it under its name; returns it with its size and the Go version. */
async function stageBinary(context: StageContext, options: GoBuildOptions, scratch: string): Promise<{ binary: string; bytes: number; goVersion: string }> {
  const built = path.join(scratch, 'out', 'init');
  checkStaticInit(await readFile(built), { cgo: options.cgo, arch: options.arch });
  const goVersion = (await readFile(path.join(scratch, 'out', 'go-version'), 'utf8')).trim().replace(/^go version /, '');
  const binary = context.out.staged(options.outName);
  await rename(built, binary);
  return { binary, bytes: (await stat(binary)).size, goVersion };
}

/**
 * Runs `work` with the Go builder ready: its image, the cache volumes, the step's common parts, and the modules
 * fetched when they are not vendored; a volume of this run is removed after.
 */
export async function withGoSteps<T>(context: StageContext, options: GoBuildOptions, work: (step: GoStep, volumes: GoVolumes, builder: BuilderImage) => Promise<T>, staged?: BuilderImage): Promise<T> {
  const { engine } = context;
  const builder = staged ?? (await goBuilder(context));
  const volumes = await goVolumes(engine, options);
  try {
    const step = goStep(context, options, builder.id, volumes);
    if (volumes.fetch) await downloadModules(context, options, step, volumes);
    return await work(step, volumes, builder);
  } finally {
    await volumes.runVolume?.dispose();
  }
}

/** The Go builder image, made when missing. */
function goBuilder(context: StageContext): Promise<BuilderImage> {
  const { engine, report, signal, out } = context;
  return stageBuilder(engine, { stage: 'go', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
}

/** The build's result from what was built (or served from the cache). */
function goResult(options: GoBuildOptions, builder: BuilderImage, built: CachedGoMeta & { binary: string; bytes: number }, cached: boolean, started: number): GoBuildResult {
  return {
    binary: built.binary,
    bytes: built.bytes,
    goVersion: built.goVersion,
    builder,
    network: 'none',
    ...(built.downloaded ? { downloadNetwork: 'bridge' as const } : {}),
    ldflags: goLdflags(options),
    cached,
    durationMs: Date.now() - started,
  };
}

/**
 * Builds the app's main package as a static linux binary for the plan's architecture in the Go builder, and checks
 * the result; with the cache, a build whose source, options and builder did not change is served from it.
 */
export async function buildGo(context: StageContext, options: GoBuildOptions): Promise<GoBuildResult> {
  const started = Date.now();
  const what = options.supervisor ? 'supervising init' : options.outName;
  const builder = await goBuilder(context);
  const key = options.useCache ? await goCacheKey(options, builder) : undefined;
  const cached = key !== undefined ? await goFromCache(context, key, options) : undefined;
  if (cached) {
    context.report({ kind: 'done', stage: 'go', text: `${what} from the cache (${cached.bytes} bytes, ${cached.goVersion.split(' ')[0]})` });
    return goResult(options, builder, cached, true, started);
  }
  return withGoSteps(
    context,
    options,
    async (step, volumes) => {
      const scratch = await mkdtemp(path.join(context.out.staging, 'go-'));
      try {
        await compile(context, options, step, volumes, scratch);
        const built = { ...(await stageBinary(context, options, scratch)), downloaded: volumes.fetch };
        if (key !== undefined) await goToCache(context, key, built.binary, { goVersion: built.goVersion, downloaded: built.downloaded });
        context.report({ kind: 'done', stage: 'go', text: `${what} built with ${built.goVersion.split(' ')[0]} (${built.bytes} bytes, static)` });
        return goResult(options, builder, built, false, started);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    builder,
  );
}
