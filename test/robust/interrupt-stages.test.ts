import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { bigAssetApp, slowGoApp, uniqueHelloApp } from '../helpers/apps.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, leftoversOf, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();
const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in:\n${text}`);
/** How long gopid1 may take from the signal to its exit. */
const STOP_WITHIN_MS = 15_000;
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type Signal = keyof typeof EXIT_CODES;

interface Interruption {
  run: CliRun;
  /** The CLI's pid: the value of the gopid1.pid label on everything it made. */
  pid: number;
  /** Everything the CLI had printed when the signal was sent ('' when it never was). */
  before: string;
  /** From the signal to the CLI's exit. */
  stopMs: number;
}

/**
 * Runs the CLI and sends it `signal` (to gopid1 alone, as `kill` does) `delayMs` after its progress first
 * matches `when` (and, with `ready`, after that also holds, polled): the stage is running then.
 */
async function interrupt(args: string[], options: { when: RegExp; ready?: () => boolean; signal: Signal; delayMs: number }): Promise<Interruption> {
  let seen = '';
  let before = '';
  let scheduled = false;
  let sentAt = 0;
  let pid = 0;
  const run = await runCli(args, {
    onOutput: (text, child) => {
      seen += text;
      pid = child.pid ?? 0;
      if (scheduled || !options.when.test(seen)) return;
      scheduled = true;
      const send = (): void => {
        if (child.exitCode !== null) return;
        before = seen;
        sentAt = Date.now();
        child.kill(options.signal);
      };
      const poll = (): void => {
        if (child.exitCode !== null) return;
        if (options.ready && !options.ready()) setTimeout(poll, 250);
        else setTimeout(send, options.delayMs);
      };
      poll();
    },
  });
  const stopMs = Date.now() - sentAt;
  assert.ok(sentAt > 0, `no ${options.signal} was sent: ${scheduled ? 'the command ended first' : `its progress never matched ${options.when}`}:\n${run.stderr}`);
  return { run, pid, before, stopMs };
}

/** What every interrupted command owes: its signal's exit code, in time, one paragraph, and nothing of its own left in the engine. */
function assertStoppedCleanly(t: TestContext, result: Interruption, signal: Signal, step: RegExp): void {
  const { run } = result;
  t.diagnostic(`exit ${run.code} ${result.stopMs} ms after ${signal}`);
  assert.equal(run.code, EXIT_CODES[signal], `exit code after ${signal}:\n${run.stderr}`);
  assert.ok(result.stopMs < STOP_WITHIN_MS, `took ${result.stopMs} ms from ${signal} to the exit`);
  assert.match(run.stderr, new RegExp(`gopid1: ${signal}: stopping`));
  assert.match(run.stderr, new RegExp(`interrupted during ${step.source} \\[INTERRUPTED\\]`));
  noStack(run.stderr);
  assert.deepEqual(leftoversOf([result.pid]), { containers: [], volumes: [], images: [] }, 'everything this run made in the engine is removed');
}

function qemuProcesses(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `qemu-system-x86_64.*${marker}`]).toString().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Containers whose command mentions `marker`: docker build's intermediate containers carry no label. */
function containers(marker: string, which: 'running' | 'all'): string[] {
  return execFileSync('docker', ['ps', ...(which === 'all' ? ['-a'] : []), '--no-trunc', '--format', '{{.ID}} {{.Status}} {{.Command}}'])
    .toString()
    .split('\n')
    .filter((line) => line.includes(marker));
}

/** Images tagged for the app in `appDir` (the machine is named after the directory): gopid1-compare-<name>:<variant>. */
function comparisonImages(appDir: string): string[] {
  const name = path.basename(appDir).toLowerCase();
  return execFileSync('docker', ['images', '-a', '--filter', `reference=gopid1-compare-${name}`, '--format', '{{.Repository}}:{{.Tag}}']).toString().split('\n').filter(Boolean);
}

/** What a comparison must not leave in its out dir when it does not finish: reports, temporary files, staging. */
function halfWritten(out: string): string[] {
  return readdirSync(out).filter((file) => /^compare\.|\.tmp$|^\.gopid1-staging/.test(file));
}

describe('interrupted mid-stage: stops within seconds, exits 128 + the signal, removes what it made, writes nothing half', { skip }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} while the Go builder compiles`, { timeout: BUILD_TIMEOUT_MS }, async (t) => {
      const app = slowGoApp('irq-go-app');
      t.after(() => rmSync(app, { recursive: true, force: true }));
      const out = tempDir('irq-go');
      // Three seconds into a compile that takes 10+ s.
      const result = await interrupt(['build', app, '--out', out], { when: /go: compiling example\.com\/slow/, signal, delayMs: 3000 });
      assert.doesNotMatch(result.before, /go: init built/, 'the Go step had finished before the signal');
      assertStoppedCleanly(t, result, signal, /go: build/);
      assert.doesNotMatch(result.run.stderr, /go: init built/);
      const log = readFileSync(path.join(out, 'logs', 'go.log'), 'utf8');
      assert.match(log, /^\$ go-step build$/m, 'the Go step had started');
      assert.doesNotMatch(log, /^# exit code/m, 'the Go step never finished');
      assert.deepEqual(readdirSync(out).sort(), ['logs'], 'no artifact and no staging directory left');
    });
  }

  // SIGINT only: SIGTERM takes the same path (checked during the Go compile), and each case zstd-compresses 64 MiB
  // on a quarter of a CPU first, nearly two minutes.
  for (const signal of ['SIGINT'] as const) {
    it(`${signal} while the ISO is mastered`, { timeout: BUILD_TIMEOUT_MS }, async (t) => {
      // 64 MiB that do not compress, and a quarter of a CPU: mastering takes seconds, not a blink.
      const app = bigAssetApp('irq-iso-app', 64);
      t.after(() => rmSync(app, { recursive: true, force: true }));
      const out = tempDir('irq-iso');
      const result = await interrupt(['build', app, '--out', out, '--iso', '--cpus', '0.25'], { when: /iso: mastering the ISO/, signal, delayMs: 500 });
      assert.doesNotMatch(result.before, /\.iso mastered/, 'the ISO was finished before the signal');
      assert.match(result.before, /initramfs: initramfs packed/);
      assertStoppedCleanly(t, result, signal, /iso: master/);
      assert.doesNotMatch(result.run.stderr, /\.iso mastered/);
      const log = readFileSync(path.join(out, 'logs', 'iso.log'), 'utf8');
      assert.match(log, /^\$ iso-step$/m, 'the ISO step had started');
      assert.doesNotMatch(log, /^# exit code/m, 'the ISO step never finished');
      assert.deepEqual(readdirSync(out).sort(), ['logs'], 'no ISO, no other artifact and no staging directory left');
    });
  }

  it('SIGINT while `gopid1 compare` builds the golang image cancels the build and removes the images it had built', { timeout: BUILD_TIMEOUT_MS }, async (t) => {
    const { dir, pkg } = uniqueHelloApp('irq-compare-app');
    const out = tempDir('irq-compare');
    // The golang image compiles the app inside `docker build` (its RUN container's command names our package);
    // the scratch, distroless and debian-slim images are built by then.
    const result = await interrupt(['compare', dir, '--package', pkg, '--out', out, '--runs', '1'], {
      when: /compare: building the golang image/,
      ready: () => containers(pkg, 'running').length > 0,
      signal: 'SIGINT',
      delayMs: 1000,
    });
    for (const variant of ['scratch', 'distroless', 'debian-slim']) assert.match(result.before, new RegExp(`compare: ${variant} image built`));
    assert.doesNotMatch(result.before, /golang image built/, 'the golang image was finished before the signal');
    assertStoppedCleanly(t, result, 'SIGINT', /building the golang comparison image/);
    assert.deepEqual(comparisonImages(dir), [], 'no comparison image left');
    // The engine cancels the image build when gopid1 hangs up: its `go build` container goes away too.
    const deadline = Date.now() + 10_000;
    while (containers(pkg, 'all').length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(containers(pkg, 'all'), [], 'the cancelled docker build left its container');
    assert.deepEqual(comparisonImages(dir), [], 'the cancelled docker build still tagged an image');
    assert.deepEqual(halfWritten(out), [], 'no report, no temporary file, no staging directory');
  });

  it('SIGINT while `gopid1 compare` measures an image (docker save) stops at once and removes it', { timeout: BUILD_TIMEOUT_MS }, async (t) => {
    const { dir, pkg } = uniqueHelloApp('irq-compare-save-app');
    const out = tempDir('irq-compare-save');
    // docker save of the 700 MB golang image through gzip takes half a minute on two cores.
    const result = await interrupt(['compare', dir, '--package', pkg, '--out', out, '--runs', '1', '--variants', 'golang'], {
      when: /compare: measuring the golang image/,
      signal: 'SIGINT',
      delayMs: 2000,
    });
    assert.doesNotMatch(result.before, /golang image built/, 'the golang image was measured before the signal');
    assertStoppedCleanly(t, result, 'SIGINT', /measuring image gopid1-compare-[^ ]+:golang/);
    assert.deepEqual(comparisonImages(dir), [], 'no comparison image left');
    assert.deepEqual(halfWritten(out), [], 'no report, no temporary file, no staging directory');
  });

  it('SIGTERM while `gopid1 compare` boots the VM stops QEMU and removes the images', { timeout: BUILD_TIMEOUT_MS }, async (t) => {
    const { dir, pkg } = uniqueHelloApp('irq-compare-vm-app');
    const out = tempDir('irq-compare-vm');
    const result = await interrupt(['compare', dir, '--package', pkg, '--out', out, '--runs', '1', '--variants', 'scratch,distroless'], {
      when: /compare: run 1 of 1: the VM/,
      signal: 'SIGTERM',
      delayMs: 300,
    });
    assert.doesNotMatch(result.before, /run 1 of 1: the scratch container/, 'the VM had been measured before the signal');
    assertStoppedCleanly(t, result, 'SIGTERM', /boot/);
    assert.deepEqual(qemuProcesses(out), [], 'QEMU is gone');
    assert.deepEqual(comparisonImages(dir), [], 'no comparison image left');
    assert.deepEqual(halfWritten(out), [], 'no report, no temporary file, no staging directory');
  });
});
