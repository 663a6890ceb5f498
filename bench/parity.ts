/**
 * Container parity, measured: Go's own tests of standard packages, each test binary run once as a FROM-scratch
 * container (`docker run --network none`, the engine's default capabilities) and once in the default machine under the
 * supervising init (`gopid1 test <package>`). `make parity` writes docs/PARITY.md from it; test/e2e/parity.test.ts
 * runs a short version.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connectEngine, packDirectory, type Engine } from '../src/engine/engine.js';
import { test, testBinaryArgs } from '../src/index.js';
import type { InitMode } from '../src/plan/vocabulary.js';

/** The packages `make parity` measures: what a program touches of the system beneath it. */
export const PARITY_PACKAGES = ['os', 'os/exec', 'os/signal', 'os/user', 'syscall', 'net', 'time', 'io/fs', 'path/filepath'];

/** The test flags every side gets, as `go test -short -v` passes them. */
const TEST_FLAGS = ['-short', '-v'];

/**
 * Tests left out on every side, each with why: they hang in a FROM-scratch container as in the machine, and would
 * hold their package until -test.timeout (10 minutes a side).
 */
export const PARITY_SKIPS: Readonly<Record<string, readonly { test: string; why: string }[]>> = {
  net: [{ test: 'TestGoLookupIPCNAMEOrderHostsAliasesFilesDNSMode', why: 'hangs on every side (container, machine, PID 1) until the 10-minute timeout (Go 1.24)' }],
};

/** A package's test flags: the common ones, and its skips. */
export function parityFlags(importPath: string): string[] {
  const skips = PARITY_SKIPS[importPath] ?? [];
  return [...TEST_FLAGS, ...(skips.length > 0 ? ['-skip', `^(${skips.map((s) => s.test).join('|')})$`] : [])];
}
/** Go's time zone database in every binary: neither a FROM-scratch image nor the machine has /usr/share/zoneinfo. */
export const PARITY_TAGS = ['timetzdata'];
const TIMEOUT_SECONDS = 600;

export type Outcome = 'pass' | 'fail' | 'skip';

/** One side's run of a package's test binary: each test's outcome and what it printed (for failures' reasons). */
export interface SideRun {
  outcomes: Map<string, Outcome>;
  /** Per test, the lines it printed (t.Log, t.Error, the skip reason). */
  said: Map<string, string[]>;
  /** The binary's exit status; absent when it did not end by itself. */
  exitStatus?: number;
  /** Its first `panic:` line, else its last line: why a binary that did not end with 0 or 1 ended. */
  ending?: string;
}

export interface PackageParity {
  importPath: string;
  container: SideRun;
  /** In the default machine under the supervising init. */
  machine: SideRun;
  /** In the default machine with the test binary as PID 1 (`--init direct`), when measured. */
  direct?: SideRun;
}

/**
 * What a test binary as PID 1 lacks that the supervising init (and a container) provides, each with the words that
 * show it in a test's first line: the causes a difference in `--init direct` is put down to, in this order.
 */
export const DIRECT_CAUSES: readonly { cause: string; pattern: RegExp }[] = [
  { cause: '/proc is not mounted', pattern: /\/proc\b/ },
  { cause: '/sys is not mounted', pattern: /\/sys\b/ },
  { cause: '`lo` is down: no 127.0.0.1 or ::1', pattern: /(tcp|tcp4|tcp6|udp|udp4|udp6|ip|ip4|ip6) is not supported|does not support "(tcp|udp)|skipping (tcp|udp) |127\.0\.0\.1|\[::1\]|network is unreachable|cannot assign requested address|no suitable address/ },
  { cause: '/dev has /dev/console and /dev/null alone', pattern: /\/dev\/(pts|ptmx|shm|fd|tty|zero|full|random|urandom|std(in|out|err))\b/ },
  { cause: 'the host name is the kernel\'s `(none)`', pattern: /hostname|\(none\)/i },
  { cause: 'the kernel\'s environment: no PATH', pattern: /\$PATH|\bPATH\b/ },
];

/** The cause of a difference as PID 1, from the first line the test printed; undefined when none is known. */
export function directCause(reason: string): string | undefined {
  return DIRECT_CAUSES.find(({ pattern }) => pattern.test(reason))?.cause;
}

/** A machine's side of the comparison: under the supervising init, or with the test binary as PID 1. */
export type MachineSide = 'machine' | 'direct';

/**
 * Reads `-test.v` output: `--- PASS|FAIL|SKIP: Name (…)` lines at any depth (subtests by their full name), and the
 * indented lines printed while a test ran (`=== RUN`, `=== CONT` and `=== NAME` say whose they are).
 */
export function parseVerbose(lines: readonly string[], exitStatus?: number): SideRun {
  const outcomes = new Map<string, Outcome>();
  const said = new Map<string, string[]>();
  let current: string | undefined;
  let panicked: string | undefined;
  for (const line of lines) {
    if (panicked === undefined && line.startsWith('panic: ')) panicked = line;
    const started = /^=== (?:RUN|CONT|NAME)\s+(\S+)/.exec(line);
    if (started) {
      current = started[1];
      continue;
    }
    const ended = /^\s*--- (PASS|FAIL|SKIP): (\S+)/.exec(line);
    if (ended) {
      outcomes.set(ended[2] ?? '', (ended[1] ?? '').toLowerCase() as Outcome);
      current = ended[2];
      continue;
    }
    if (current !== undefined && /^\s+\S/.test(line)) said.set(current, [...(said.get(current) ?? []), line.trim()]);
  }
  // A timeout's panic names the tests still running on the lines after it.
  const running = panicked?.startsWith('panic: test timed out') ? lines[lines.indexOf('\trunning tests:') + 1]?.trim() : undefined;
  if (panicked !== undefined && running) panicked = `${panicked} (running ${running})`;
  const ending = panicked ?? [...lines].reverse().find((line) => line.trim() !== '' && !line.startsWith('gopid1: ') && !line.startsWith('['));
  return { outcomes, said, ...(exitStatus !== undefined ? { exitStatus } : {}), ...(ending !== undefined ? { ending } : {}) };
}

export function counts(run: SideRun): Record<Outcome, number> {
  const tally: Record<Outcome, number> = { pass: 0, fail: 0, skip: 0 };
  for (const outcome of run.outcomes.values()) tally[outcome] += 1;
  return tally;
}

/** Tests that pass in the container and do not pass on a machine's side, each with what that side's run said. */
export function regressions(parity: PackageParity, side: MachineSide = 'machine'): { test: string; outcome: Outcome | 'missing'; reason: string }[] {
  const found: { test: string; outcome: Outcome | 'missing'; reason: string }[] = [];
  const run = parity[side];
  if (run === undefined) return found;
  for (const [name, outcome] of parity.container.outcomes) {
    const there = run.outcomes.get(name);
    if (outcome !== 'pass' || there === 'pass') continue;
    const reason = (run.said.get(name) ?? []).find((line) => !/^--- /.test(line)) ?? (there === undefined ? `no result: the binary ended with ${run.exitStatus ?? 'no status'}` : '');
    found.push({ test: name, outcome: there ?? 'missing', reason });
  }
  return found;
}

/** A machine's side: `gopid1 test <package>` from a module that holds nothing else; the binary stays in `out`. */
async function machineSide(module: string, importPath: string, out: string, init: InitMode, log: (text: string) => void): Promise<{ run: SideRun; binary: string }> {
  const lines: string[] = [];
  const result = await test({ dir: module, packages: [importPath], testArgs: parityFlags(importPath), tags: PARITY_TAGS, init, timeoutSeconds: TIMEOUT_SECONDS, out, onOutput: (_pkg, line) => lines.push(line) });
  const pkg = result.packages[0];
  if (!pkg) throw new Error(`gopid1 test found no tests in ${importPath}`);
  if (pkg.error !== undefined) log(`parity: ${importPath} in the machine (--init ${init}): ${pkg.error}`);
  return { run: parseVerbose(lines, pkg.exitStatus), binary: path.join(out, '1', 'app') };
}

/** The container's side: the same binary alone in a FROM-scratch image, run as `docker run --rm --network none`. */
async function containerSide(engine: Engine, binary: string, importPath: string, work: string, log: (text: string) => void): Promise<SideRun> {
  const context = path.join(work, 'context');
  await mkdir(context, { recursive: true });
  await copyFile(binary, path.join(context, 'app'));
  await chmod(path.join(context, 'app'), 0o755);
  await writeFile(path.join(context, 'Dockerfile'), 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n');
  const tag = `gopid1-parity:${engine.runId.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}`;
  const progress = { logFile: path.join(work, 'image.log') };
  await engine.buildImage({ context: () => packDirectory(context), tag, what: `the scratch image of ${importPath}'s tests`, from: 'scratch + the test binary', labels: engine.labels('parity'), hint: 'Check the engine with `docker info`.', progress });
  try {
    const lines: string[] = [];
    const run = await engine.runProgram({ image: tag, role: 'parity', cmd: testBinaryArgs(parityFlags(importPath), TIMEOUT_SECONDS), network: 'none', timeoutMs: (TIMEOUT_SECONDS + 60) * 1000, onLine: (line) => lines.push(line) });
    if (run.exitCode === undefined) log(`parity: ${importPath} in the container did not end within ${TIMEOUT_SECONDS + 60} s`);
    return parseVerbose(lines, run.exitCode);
  } finally {
    await engine.removeImage(tag);
  }
}

/**
 * Measures each package on each side, one after the other (the machine first: it builds the test binary); with
 * `direct`, also in the machine with the test binary as PID 1.
 */
export async function measureParity(packages: readonly string[], work: string, log: (text: string) => void, options: { direct?: boolean } = {}): Promise<PackageParity[]> {
  const module = path.join(work, 'module');
  await mkdir(module, { recursive: true });
  await writeFile(path.join(module, 'go.mod'), 'module gopid1.dev/parity\n\ngo 1.24\n');
  const engine = await connectEngine();
  const results: PackageParity[] = [];
  for (const importPath of packages) {
    const dir = path.join(work, importPath.replace(/\//g, '-'));
    log(`parity: ${importPath} in the machine`);
    const machine = await machineSide(module, importPath, path.join(dir, 'machine'), 'supervise', log);
    log(`parity: ${importPath} in a FROM-scratch container`);
    const container = await containerSide(engine, machine.binary, importPath, dir, log);
    if (options.direct) log(`parity: ${importPath} in the machine, as PID 1`);
    const direct = options.direct ? (await machineSide(module, importPath, path.join(dir, 'direct'), 'direct', log)).run : undefined;
    results.push({ importPath, container, machine: machine.run, ...(direct ? { direct } : {}) });
  }
  return results;
}
