import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { LineSplitter } from '../lines.js';
import { openLog } from '../logs.js';
import { ConsoleWatcher, type ConsoleVerdict } from './console.js';
import { bootloaderOf, prepareRun, type BootMachineOptions } from './prepare.js';
import type { MachineType } from './command.js';
import { findOnPath } from './host-tools.js';
import { outcomeOf } from './outcome.js';
import { qmpCommand, QmpSession, type QmpEvent } from './qmp.js';

export type { BootMachineOptions };

/** How long an incomplete console line must stay unchanged before --expect may match it. */
const PARTIAL_LINE_QUIET_MS = 200;
/**
 * After the power button: the supervising init gives the program 10 s after SIGTERM, and what it left running
 * 2 s, before it powers off; QEMU is killed if it is still running after this.
 */
const POWER_DOWN_GRACE_MS = 15_000;
/** After the supervising init reported the program's end: time to stop leftovers and power off. */
const POWER_OFF_AFTER_EXIT_MS = 8_000;


export interface BootResult {
  /**
   * expected: --expect was met; exited: the program ended (status or signal; as PID 1, or under the supervising
   * init); powered-off: the machine turned itself off; first-output: stopped `firstOutputWindowMs` after the
   * program's first output.
   */
  outcome: 'expected' | 'exited' | 'powered-off' | 'first-output';
  exitStatus?: number;
  exitSignal?: number;
  /** Who was PID 1. */
  init: 'direct' | 'supervise';
  /** With the supervising init: the machine powered itself off after the program ended (no kernel panic). */
  cleanPowerOff?: boolean;
  /** Host → guest forwards, e.g. "tcp:127.0.0.1:8080->80". */
  forwards?: string[];
  /** From QEMU's start to the program's first console line. */
  firstLineMs?: number;
  /** From QEMU's start to the line that met --expect. */
  expectMs?: number;
  /**
   * From QEMU's start to the kernel's clock reading zero (firmware, loading, decompression before it), and to the
   * kernel running /init: read from printk timestamps, so only when the console shows kernel info messages
   * (e.g. --cmdline loglevel=7; `quiet` hides them).
   */
  kernelStartMs?: number;
  initMs?: number;
  /** QEMU's peak resident memory on the host (VmHWM), read when gopid1 stopped it. */
  hostPeakRssBytes?: number;
  /** The kernel's OOM killer stopped a process: the machine ran out of RAM (`memoryMiB`). */
  outOfMemory?: boolean;
  durationMs: number;
  accel: 'kvm' | 'tcg';
  accelReason: string;
  machine: MachineType;
  /** The firmware QEMU ran: qboot.rom, OVMF.fd, or QEMU's default for the machine (SeaBIOS; microvm's own). */
  firmware: string;
  memoryMiB: number;
  /** The kernel command line of a direct boot (an ISO's is in its grub.cfg). */
  cmdline?: string;
  uefi: boolean;
  /** The disk the machine mounted on /data: `created` for this boot (blank), `scratch` removed after it. */
  dataDisk?: { file: string; created: boolean; scratch: boolean };
  command: string[];
  serialLog: string;
}

/** A process's peak resident set (VmHWM) from /proc, in bytes; undefined where /proc does not have it. */
function peakRss(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

type Verdict = ConsoleVerdict | { kind: 'sampled' };
type QemuChild = ReturnType<typeof spawnQemu>;

/**
 * QEMU runs in its own session, so a Ctrl-C on the terminal reaches gopid1 only, which stops the machine the way it
 * should be stopped; setpriv --pdeathsig kills it if gopid1 itself is killed.
 */
function spawnQemu(setpriv: string | undefined, qemu: string, args: string[], supervised: boolean) {
  const common = { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false, forceKillAfterDelay: 2000 } as const;
  return setpriv ? execa(setpriv, ['--pdeathsig', 'KILL', '--', qemu, ...args], { ...common, detached: true }) : execa(qemu, args, { ...common, detached: supervised });
}

/** How a run is stopped: at once (kill), or through the power button when the supervising init can shut down. */
class RunControl {
  verdict: Verdict | undefined;
  timedOut = false;
  aborted = false;
  /** What QEMU said besides the console: a watchdog that fired (and reset the machine). */
  watchdogFired: string | undefined;
  hostPeakRssBytes: number | undefined;
  readonly qmp: Promise<QmpSession | undefined>;
  private exited = false;
  private poweringDown = false;
  private grace: NodeJS.Timeout | undefined;

  constructor(
    private readonly child: QemuChild,
    private readonly qmpSocket: string | undefined,
    private readonly supervised: boolean,
  ) {
    void child.finally(() => (this.exited = true));
    const onEvent = (event: QmpEvent): void => {
      if (event.event === 'WATCHDOG') this.watchdogFired ??= String(event.data?.action ?? 'reset');
    };
    this.qmp = qmpSocket ? QmpSession.open(qmpSocket, onEvent, { timeoutMs: 10_000, gaveUp: () => this.exited }) : Promise.resolve(undefined);
  }

  readonly kill = (): void => {
    this.hostPeakRssBytes ??= peakRss(this.child.pid);
    this.child.kill('SIGTERM');
  };

  killAfter(ms: number): void {
    clearTimeout(this.grace);
    this.grace = setTimeout(this.kill, ms);
  }

  /** Timeout and abort: with the supervising init, press the power button and give it time to stop the program. */
  stop(): void {
    const socket = this.qmpSocket;
    if (!socket || !this.supervised) return this.kill();
    if (this.poweringDown) return;
    this.poweringDown = true;
    this.killAfter(POWER_DOWN_GRACE_MS);
    this.qmp.then((session) => (session ? session.execute('system_powerdown') : qmpCommand(socket, 'system_powerdown'))).catch(this.kill);
  }

  /** The first verdict ends the run; the supervising init powers the machine off itself once the program has ended. */
  settle(next: Verdict | undefined): void {
    if (this.verdict || !next) return;
    this.verdict = next;
    if (next.kind === 'app-exited') this.killAfter(POWER_OFF_AFTER_EXIT_MS);
    else this.kill();
  }

  async close(): Promise<void> {
    clearTimeout(this.grace);
    (await this.qmp)?.close();
  }
}

/** Feeds QEMU's console to the log, `onConsole` and the watcher; returns what ends the watching. */
function watchConsole(child: QemuChild, control: RunControl, watcher: ConsoleWatcher, log: Awaited<ReturnType<typeof openLog>>, options: BootMachineOptions, started: number): () => void {
  let window: NodeJS.Timeout | undefined;
  const watchWindow = (): void => {
    if (options.firstOutputWindowMs === undefined || window || watcher.firstProgramLineAt === undefined) return;
    window = setTimeout(() => control.settle({ kind: 'sampled' }), options.firstOutputWindowMs);
  };
  const splitter = new LineSplitter((line) => {
    log.line(line);
    options.onConsole?.(line);
    if (!control.verdict) control.settle(watcher.feed(line, performance.now() - started));
    watchWindow();
  });
  // A line without its newline yet: note it now, match it against --expect only once the console is quiet.
  let quiet: NodeJS.Timeout | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    splitter.push(chunk);
    clearTimeout(quiet);
    // Only the head of a partial line after each chunk: a line that never ends must not cost its length every time.
    const head = splitter.partialHead();
    if (control.verdict || head === '') return;
    const at = performance.now() - started;
    watcher.notePartial(head, at);
    watchWindow();
    const received = splitter.received;
    quiet = setTimeout(() => {
      if (splitter.received === received) control.settle(watcher.feedPartial(splitter.partial, at));
    }, PARTIAL_LINE_QUIET_MS);
  });
  return () => {
    clearTimeout(quiet);
    clearTimeout(window);
    splitter.end();
  };
}

/** The timeout and the abort signal, each stopping the run; returns what disarms them. */
function armStops(control: RunControl, options: BootMachineOptions): () => void {
  const timer =
    options.timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => {
          control.timedOut = true;
          control.stop();
        }, options.timeoutSeconds * 1000);
  const onAbort = (): void => {
    control.aborted = true;
    control.stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  return () => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  };
}

type PreparedRun = Awaited<ReturnType<typeof prepareRun>>;

/** What a run was, whatever its outcome: the machine, its firmware, and the timings the watcher saw. */
function describeRun(run: PreparedRun, options: BootMachineOptions, watcher: ConsoleWatcher, control: RunControl, durationMs: number) {
  const { machine, firmware } = run;
  return {
    durationMs,
    accel: run.accel,
    accelReason: run.reason,
    machine,
    firmware: firmware ? path.basename(firmware) : machine === 'microvm' ? 'bios-microvm.bin' : machine === 'virt' ? 'none (QEMU loads the kernel)' : 'SeaBIOS',
    memoryMiB: run.memoryMiB,
    ...(run.cmdline !== undefined ? { cmdline: run.cmdline } : {}),
    uefi: run.uefiFirmware !== undefined,
    init: run.supervised ? ('supervise' as const) : ('direct' as const),
    ...(options.net && options.net.forwards.length > 0 ? { forwards: options.net.forwards.map((f) => `${f.protocol}:${f.hostAddress}:${f.hostPort}->${f.guestPort}`) } : {}),
    command: [run.qemu, ...run.args],
    serialLog: options.serialLog,
    ...(watcher.firstProgramLineAt !== undefined ? { firstLineMs: watcher.firstProgramLineAt } : {}),
    ...(control.hostPeakRssBytes !== undefined ? { hostPeakRssBytes: control.hostPeakRssBytes } : {}),
    ...(watcher.kernelClockZeroAt !== undefined ? { kernelStartMs: watcher.kernelClockZeroAt } : {}),
    ...(watcher.initAt !== undefined ? { initMs: watcher.initAt } : {}),
    ...(watcher.outOfMemory ? { outOfMemory: true } : {}),
  };
}

/**
 * Boots a kernel and initramfs in QEMU with the serial console on a pipe, and watches it: the N-th
 * `expect` match, PID 1's exit (decoded from the kernel's panic line), any other panic, the timeout, or
 * an abort each stop QEMU at once.
 */
export async function bootMachine(options: BootMachineOptions): Promise<BootResult> {
  const run = await prepareRun(options);
  const log = await openLog(options.serialLog, { tailSize: 25 });
  const watcher = new ConsoleWatcher({ ...(options.expect ? { expect: options.expect } : {}), expectCount: options.expectCount ?? 1, expectAnywhere: options.expectAnywhere ?? false, ...bootloaderOf(options.media, options.bootloader), supervised: run.supervised });
  const started = performance.now();
  const child = spawnQemu(await findOnPath('setpriv'), run.qemu, run.args, run.supervised);
  const control = new RunControl(child, run.qmpSocket, run.supervised);
  const stopWatching = watchConsole(child, control, watcher, log, options, started);
  const disarm = armStops(control, options);
  let result;
  try {
    result = await child;
  } finally {
    disarm();
    await control.close();
    if (run.runDir) await rm(run.runDir, { recursive: true, force: true });
    stopWatching();
    await log.close();
  }
  return {
    ...describeRun(run, options, watcher, control, performance.now() - started),
    ...outcomeOf({
      verdict: control.verdict,
      aborted: control.aborted,
      timedOut: control.timedOut,
      poweredDown: run.qmpSocket !== undefined,
      watchdogFired: control.watchdogFired,
      qemu: { exitCode: result.exitCode, signal: result.signal, stderr: String(result.stderr ?? '') },
      expect: options.expect,
      expectedAt: watcher.expectedAt,
      timeoutSeconds: options.timeoutSeconds,
      lastLines: log.tail(),
      serialLog: options.serialLog,
      command: [run.qemu, ...run.args],
    }),
  };
}
