import { mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BUILDER_UID, type BuilderImage, packDirectory, type StepInput } from '../engine/engine.js';
import { stageBuilder } from '../builders.js';
import { Gopid1Error } from '../errors.js';
import { DEFAULT_SERIES, type Arch } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import { checkStaticInit } from './elf.js';

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
  durationMs: number;
}

export interface AppFacts {
  dir: string;
  module: string;
  /** vendor/modules.txt exists: builds need no network. */
  vendored: boolean;
  /** go.mod requires modules. */
  hasRequires: boolean;
  /** Some file of the main package says import "C". */
  usesCgo: boolean;
}

async function goFilesOf(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith('.go') && !name.endsWith('_test.go'));
  } catch {
    return [];
  }
}

/** Checks that `appDir` holds a Go module with a main package at `pkg`, before any container starts. */
export async function inspectApp(appDir: string, pkg: string): Promise<AppFacts> {
  const dir = path.resolve(appDir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new Gopid1Error('BAD_INPUT', `app directory ${appDir} does not exist`, { hint: 'Pass the directory that holds your go.mod, e.g. `gopid1 build ./myapp`.' });
  }
  let goMod: string;
  try {
    goMod = await readFile(path.join(dir, 'go.mod'), 'utf8');
  } catch {
    throw new Gopid1Error('BAD_INPUT', `${appDir} has no go.mod`, {
      hint: `gopid1 builds Go modules. Create one with \`go mod init example.com/${path.basename(dir)}\` in ${appDir}, or pass the module's directory.`,
    });
  }
  const module = /^module\s+(\S+)/m.exec(goMod)?.[1];
  if (!module) throw new Gopid1Error('BAD_INPUT', `${appDir}/go.mod has no module line`, { hint: 'Start go.mod with `module <path>`.' });
  if (path.isAbsolute(pkg) || pkg.split(/[\\/]/).includes('..')) {
    throw new Gopid1Error('BAD_INPUT', `--package ${pkg} must be a path inside the module`, { hint: 'Use a relative path such as ./cmd/server.' });
  }
  const pkgDir = path.join(dir, pkg);
  const files = await goFilesOf(pkgDir);
  const sources = await Promise.all(files.map((name) => readFile(path.join(pkgDir, name), 'utf8')));
  if (!sources.some((text) => /^package\s+main\b/m.test(text))) {
    throw new Gopid1Error('BAD_INPUT', `${path.join(appDir, pkg)} is not a Go main package (no .go file says "package main")`, {
      hint: 'PID 1 must be a program. Point at the directory of your main package, or pass --package ./cmd/<name>.',
    });
  }
  const vendored = await stat(path.join(dir, 'vendor', 'modules.txt')).then(() => true, () => false);
  return {
    dir,
    module,
    vendored,
    hasRequires: /^\s*require\b/m.test(goMod),
    usesCgo: sources.some((text) => /^\s*import\s+(\(\s*)?"C"/m.test(text) || /^\s*"C"\s*$/m.test(text)),
  };
}

/** -ldflags for `go build`: no build id (reproducible), optionally stripped, and static linking for cgo. */
export function goLdflags(options: { strip: boolean; cgo: boolean }): string {
  return ['-buildid=', ...(options.strip ? ['-s', '-w'] : []), ...(options.cgo ? ['-linkmode=external', '-extldflags=-static'] : [])].join(' ');
}

/** A Go step's log tail without what go-step prints about itself (command, version, sandbox, cgroup): the tool's own lines. */
function withoutStepHeader(tail: string[]): string[] {
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
function compileFailure(app: AppFacts, options: GoBuildOptions, logFile: string): (exitCode: number, tail: string[]) => Gopid1Error {
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

/** Builds the app's main package as a static linux binary for the plan's architecture in the Go builder, and checks the result. */
export async function buildGo(context: StageContext, options: GoBuildOptions): Promise<GoBuildResult> {
  const started = Date.now();
  const { app } = options;
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'go', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const cacheVolume = options.useCache ? await engine.ensureVolume(GO_CACHE_VOLUME, 'go', { replaces: LEGACY_GO_CACHE_VOLUMES }) : undefined;
  // Modules that are not vendored are fetched first by a step of their own, the only one with network, into the
  // module cache alone; the compile never has any (GOPROXY=off) and reads that cache read-only. Without the cache
  // volumes the modules go through a volume of this run, and the build cache stays in the compile's /tmp.
  const fetch = app.hasRequires && !app.vendored;
  const ldflags = goLdflags(options);
  const env: Record<string, string> = {
    GOPID1_PACKAGE: options.package.startsWith('.') ? options.package : `./${options.package}`,
    GOPID1_CGO: options.cgo ? '1' : '0',
    GOPID1_LDFLAGS: ldflags,
    GOPID1_GOARCH: options.arch,
    SOURCE_DATE_EPOCH: String(options.sourceDateEpoch),
  };
  const runVolume = fetch && !cacheVolume ? await engine.createVolume('go-modules') : undefined;
  const moduleVolume = !fetch ? undefined : cacheVolume ? await engine.ensureVolume(GO_MODCACHE_VOLUME, 'go') : runVolume?.name;
  if (!cacheVolume) env.GOCACHE = '/tmp/go-build';
  if (!moduleVolume) env.GOMODCACHE = '/tmp/go-mod';
  const buildVolumes: Record<string, string> = cacheVolume ? { [cacheVolume]: '/cache' } : {};
  const modules: Record<string, string> = moduleVolume ? { [moduleVolume]: '/modcache' } : {};
  const exclude = new Set(['.git', ...options.exclude]);
  const source = (): StepInput => ({ path: '/src', archive: () => packDirectory(app.dir, { skip: (relative) => exclude.has(relative) }) });
  const what = options.supervisor ? 'supervising init' : options.outName;
  const logFile = path.join(out.logs, options.supervisor ? 'go-supervisor.log' : 'go.log');
  const scratch = await mkdtemp(path.join(out.staging, 'go-'));
  try {
    if (fetch) {
      report({ kind: 'step', stage: 'go', text: `downloading the modules ${app.module} requires` });
      await engine.runStep({
        role: 'go-download',
        title: 'go: download modules',
        image: builder.id,
        cmd: ['go-step', 'download'],
        env: { ...env, ...fetchEnvironment() },
        network: 'bridge',
        limits: context.limits,
        volumes: modules,
        writable: ['/src', '/out'],
        inputs: [source()],
        logFile,
        onLine: (line) => report({ kind: 'line', stage: 'go', line }),
        ...(signal ? { signal } : {}),
        onFailure: downloadFailure(app, logFile),
      });
    }
    report({ kind: 'step', stage: 'go', text: `compiling ${options.supervisor ? 'the supervising init ' : ''}${app.module}${options.package === '.' ? '' : `/${options.package.replace(/^\.\//, '')}`}` });
    await engine.runStep({
      role: options.supervisor ? 'go-build-supervisor' : 'go-build',
      title: options.supervisor ? 'go: build the supervising init' : 'go: build',
      image: builder.id,
      cmd: ['go-step', 'build'],
      env: { ...env, GOPROXY: 'off' },
      network: 'none',
      limits: context.limits,
      volumes: buildVolumes,
      writable: ['/src', '/out'],
      readOnlyVolumes: modules,
      inputs: [source()],
      outputs: [{ path: '/out', dest: scratch }],
      logFile,
      onLine: (line) => report({ kind: 'line', stage: 'go', line }),
      ...(signal ? { signal } : {}),
      onFailure: compileFailure(app, options, logFile),
    });
    const built = path.join(scratch, 'out', 'init');
    checkStaticInit(await readFile(built), { cgo: options.cgo, arch: options.arch });
    const goVersion = (await readFile(path.join(scratch, 'out', 'go-version'), 'utf8')).trim().replace(/^go version /, '');
    const binary = out.staged(options.outName);
    await rename(built, binary);
    const bytes = (await stat(binary)).size;
    report({ kind: 'done', stage: 'go', text: `${what} built with ${goVersion.split(' ')[0]} (${bytes} bytes, static)` });
    return {
      binary,
      bytes,
      goVersion,
      builder,
      network: 'none',
      ...(fetch ? { downloadNetwork: 'bridge' as const } : {}),
      ldflags,
      durationMs: Date.now() - started,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await runVolume?.dispose();
  }
}
