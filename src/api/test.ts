import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContentCache } from '../artifacts/cache.js';
import { OutputDir } from '../artifacts/out.js';
import { connectEngine } from '../engine/engine.js';
import { Gopid1Error, throwIfAborted } from '../errors.js';
import { inspectApp } from '../go/app.js';
import { listTestPackages, test2json, type TestPackage } from '../go/go-test.js';
import { dockerfilesDir } from '../paths.js';
import { gatherHostFacts } from '../plan/host.js';
import { planBuild, type BuildPlan } from '../plan/plan.js';
import { isKernelLine } from '../qemu/console.js';
import { silent, type Reporter } from '../progress.js';
import type { StageContext } from '../stage.js';
import type { Arch, InitMode } from '../plan/vocabulary.js';
import { boot } from './boot.js';
import { executePlan } from './build.js';

export interface TestOptions {
  /** The module's directory (holds go.mod); default the current directory. */
  dir?: string;
  /** Packages as `go test` takes them: `.` (the default), `./...`, `./pkg/x`. */
  packages?: string[];
  /** Flags for the test binaries, as `go test` takes them (`-run X`, `-v`, `-count 2`) or as `-test.run X`. */
  testArgs?: string[];
  /** Per package, as `go test -timeout` (default 600 s); the machine gets a minute more to start and stop. */
  timeoutSeconds?: number;
  /**
   * Each machine's RAM in MiB (default 512): test binaries allocate far more than the program of a build, and the
   * machine's default is sized from the initramfs (about 100 MiB; time's tests were killed by the OOM killer there).
   */
  memoryMiB?: number;
  /** Where each package's machine is built (one directory per package); default a temporary directory, removed after. */
  out?: string;
  /** Go build tags for the test binaries (`go test -tags`). */
  tags?: string[];
  /** The machines' architecture (default amd64); arm64 boots under qemu-system-aarch64. */
  arch?: Arch;
  /**
   * Who is PID 1 (default supervise): with direct the test binary itself, in / (the kernel's working directory: the
   * package's directory is in the machine, but relative paths such as testdata/ do not find it), as `make parity` compares.
   */
  init?: InitMode;
  /** Networking in the machines (`--net`: the kernel's drivers and DHCP, QEMU's user network), for tests that reach out. */
  net?: boolean;
  onProgress?: Reporter;
  /** Each line a package's machine prints: its tests' output (`tests`), or the kernel's and the supervising init's (`machine`). */
  onOutput?: (importPath: string, line: string, from: 'tests' | 'machine') => void;
  /** `go test -json` events instead of output: the binaries run with -test.v=test2json, go tool test2json converts. */
  onEvent?: (event: string) => void;
  signal?: AbortSignal;
}

export interface PackageTestResult {
  importPath: string;
  /** The package's directory relative to the module's; none for one outside it (the standard library's, a dependency's). */
  dir?: string;
  passed: boolean;
  /** The test binary's exit status (1 when a test failed); absent when the machine did not get that far. */
  exitStatus?: number;
  /** Why it failed without a status (the machine timed out, panicked, could not be built). */
  error?: string;
  durationMs: number;
}

export interface TestResult {
  passed: boolean;
  packages: PackageTestResult[];
}

/** A test machine's RAM unless told: room for what test binaries allocate (RAM QEMU hands out as the guest touches it). */
export const DEFAULT_TEST_MEMORY_MIB = 512;

/** The flags `go test` passes on to the test binary under their -test. names, as it spells them. */
const TEST_FLAGS = new Set(['bench', 'benchmem', 'benchtime', 'blockprofile', 'count', 'cpu', 'failfast', 'fullpath', 'list', 'parallel', 'run', 'short', 'shuffle', 'skip', 'timeout', 'v']);

/**
 * The test binary's arguments for `go test` flags: `-run X` → `-test.run=X`, `-v` → `-test.v=true`; `-test.*` as
 * given; everything after `-args` unchanged. Words go on the kernel command line, so none may hold a space or quote.
 */
export function testBinaryArgs(args: readonly string[], timeoutSeconds: number): string[] {
  const out: string[] = [];
  let timeoutGiven = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-args' || arg === '--args') {
      out.push(...args.slice(i + 1));
      break;
    }
    const flag = /^--?(test\.)?([a-z]+)(=(.*))?$/.exec(arg);
    if (!flag || (!flag[1] && !TEST_FLAGS.has(flag[2] ?? ''))) {
      throw new Gopid1Error('BAD_INPUT', `${arg} is not a flag gopid1 test passes to the test binary`, { hint: `Use go test's test flags (${[...TEST_FLAGS].map((f) => `-${f}`).join(', ')}) or -test.<name>; arguments for the tests themselves go after -args.` });
    }
    const name = flag[2] ?? '';
    if (name === 'timeout') timeoutGiven = true;
    const boolean = ['v', 'short', 'failfast', 'benchmem', 'fullpath'].includes(name);
    const value = flag[4] ?? (boolean ? 'true' : args[++i]);
    if (value === undefined) throw new Gopid1Error('BAD_INPUT', `${arg} needs a value`, { hint: `e.g. ${arg} TestName` });
    out.push(`-test.${name}=${value}`);
  }
  const all = [...(timeoutGiven ? [] : [`-test.timeout=${timeoutSeconds}s`]), '-test.paniconexit0', ...out];
  const unfit = all.find((word) => /[\s"'\\]/.test(word) || word === '');
  if (unfit !== undefined) {
    throw new Gopid1Error('BAD_INPUT', `the test argument ${JSON.stringify(unfit)} cannot travel on the kernel command line (spaces, quotes and backslashes do not)`, { hint: 'Pass values without spaces or quotes; a -run pattern can use . for a space.' });
  }
  return all;
}

/**
 * The plan of a package's machine: the default machine under the supervising init, its test binary as the program,
 * its directory (a package of the module's) the working directory. A package outside the module runs in /.
 */
function packagePlan(plan: BuildPlan, pkg: TestPackage, out: string, index: number): BuildPlan {
  const machine = { ...plan, name: `${index}-${path.basename(pkg.importPath)}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-'), out: path.join(out, String(index)), force: true };
  if (pkg.dir === undefined) return { ...machine, program: { ...plan.program, test: true, importPath: pkg.importPath } };
  const dir = pkg.dir === '.' ? '.' : `./${pkg.dir}`;
  return {
    ...machine,
    app: { ...plan.app, package: dir },
    program: { ...plan.program, package: dir, test: true },
    runtime: { ...plan.runtime, workdir: pkg.dir === '.' ? '/src' : `/src/${pkg.dir}` },
  };
}

/** A stage context of the whole run (listing the packages, converting output), its out dir discarded after. */
async function withContext<T>(plan: BuildPlan, options: TestOptions, work: (context: StageContext) => Promise<T>): Promise<T> {
  const engine = await connectEngine();
  const out = await OutputDir.open(plan.out, { appDir: plan.app.dir, runId: engine.runId, force: true });
  try {
    return await work({ engine, out, limits: plan.limits, cache: new ContentCache(), dockerfilesDir, report: options.onProgress ?? silent, ...(options.signal ? { signal: options.signal } : {}) });
  } finally {
    await out.discard();
  }
}

async function listPackages(context: StageContext, plan: BuildPlan, patterns: string[]): Promise<TestPackage[]> {
  const app = await inspectApp(plan.app.dir, '.', { test: true });
  return listTestPackages(context, { arch: plan.arch, app, patterns, cgo: false, ...(plan.program.tags ? { tags: plan.program.tags } : {}), strip: false, useCache: plan.cache, exclude: [], sourceDateEpoch: plan.sourceDateEpoch });
}

/** What the supervising init says about itself on the console (not the tests' output). */
const INIT_LINE = /^gopid1: /;

/** Builds one package's machine and boots it: passed when its test binary exits 0. With onEvent, its output as events. */
async function testPackage(context: StageContext, plan: BuildPlan, pkg: TestPackage, args: string[], options: TestOptions, timeoutSeconds: number): Promise<PackageTestResult> {
  const started = Date.now();
  const report = { importPath: pkg.importPath, dir: pkg.dir };
  const output: string[] = [];
  try {
    await executePlan(plan, { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    const result = await boot({
      dir: plan.out,
      cmdline: `-- ${[...args, ...(options.onEvent ? ['-test.v=test2json'] : [])].join(' ')}`,
      timeoutSeconds: timeoutSeconds + 60,
      memoryMiB: options.memoryMiB ?? DEFAULT_TEST_MEMORY_MIB,
      onConsole: (line) => {
        const from = INIT_LINE.test(line) || isKernelLine(line) ? 'machine' : 'tests';
        if (from === 'tests') output.push(line);
        options.onOutput?.(pkg.importPath, line, from);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const status = result.exitStatus ?? (result.exitSignal !== undefined ? 128 + result.exitSignal : undefined);
    if (options.onEvent) for (const event of await test2json(context, pkg.importPath, output)) options.onEvent(event);
    const oom = result.outOfMemory ? { error: `the kernel's OOM killer struck: the machine's ${result.memoryMiB} MiB ran out (raise --memory)` } : {};
    return { ...report, passed: status === 0, ...(status !== undefined ? { exitStatus: status } : { error: `the machine ended without a status (${result.outcome})` }), ...oom, durationMs: Date.now() - started };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return { ...report, passed: false, error: error instanceof Error ? error.message : String(error), durationMs: Date.now() - started };
  }
}

/**
 * `gopid1 test`: builds each package's test binary (`go test -c`, with the flags of a build) in the Go builder, boots
 * it as the program of the default machine under the supervising init, its package's directory as its working
 * directory, and says per package whether its tests passed, as `go test` does.
 */
export async function test(options: TestOptions = {}): Promise<TestResult> {
  const dir = path.resolve(options.dir ?? '.');
  const timeoutSeconds = options.timeoutSeconds ?? 600;
  const args = testBinaryArgs(options.testArgs ?? [], timeoutSeconds);
  const out = options.out !== undefined ? path.resolve(options.out) : await mkdtemp(path.join(os.tmpdir(), 'gopid1-test-'));
  try {
    const machine = { ...(options.tags ? { tags: options.tags } : {}), ...(options.arch ? { arch: options.arch } : {}), ...(options.net ? { net: true } : {}) };
    const plan = planBuild({ app: dir, out: path.join(out, 'list'), init: options.init ?? 'supervise', ...machine }, await gatherHostFacts({ app: dir }));
    return await withContext(plan, options, async (context) => {
      const packages = await listPackages(context, plan, options.packages ?? ['.']);
      const results: PackageTestResult[] = [];
      for (const [index, pkg] of packages.entries()) {
        throwIfAborted(options.signal, 'test');
        results.push(await testPackage(context, packagePlan(plan, pkg, out, index + 1), pkg, args, options, timeoutSeconds));
      }
      return { passed: results.every((result) => result.passed), packages: results };
    });
  } finally {
    if (options.out === undefined) await rm(out, { recursive: true, force: true });
  }
}
