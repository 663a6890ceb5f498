import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { LineSplitter } from '../lines.js';
import { openLog } from '../logs.js';
import { ConsoleWatcher, type ConsoleVerdict } from './console.js';
import { bootloaderOf, prepareRun, type BootMachineOptions } from './prepare.js';
import { findOnPath, type MachineType } from './command.js';
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

/**
 * Boots a kernel and initramfs in QEMU with the serial console on a pipe, and watches it: the N-th
 * `expect` match, PID 1's exit (decoded from the kernel's panic line), any other panic, the timeout, or
 * an abort each stop QEMU at once.
 */
export async function bootMachine(options: BootMachineOptions): Promise<BootResult> {
  const { media } = options;
  const { qemu, args, machine, firmware, uefiFirmware, accel, reason, memoryMiB, supervised, runDir, qmpSocket, cmdline } = await prepareRun(options);

  const log = await openLog(options.serialLog, { tailSize: 25 });
  const watcher = new ConsoleWatcher({ ...(options.expect ? { expect: options.expect } : {}), expectCount: options.expectCount ?? 1, expectAnywhere: options.expectAnywhere ?? false, ...bootloaderOf(media, options.bootloader), supervised });
  let verdict: ConsoleVerdict | { kind: 'sampled' } | undefined;
  let timedOut = false;
  let aborted = false;
  const started = performance.now();

  // QEMU runs in its own session, so a Ctrl-C on the terminal reaches gopid1 only, which stops the machine the
  // way it should be stopped; setpriv --pdeathsig kills it if gopid1 itself is killed.
  const setpriv = await findOnPath('setpriv');
  const child = setpriv
    ? execa(setpriv, ['--pdeathsig', 'KILL', '--', qemu, ...args], { detached: true, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false, forceKillAfterDelay: 2000 })
    : execa(qemu, args, { detached: supervised, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false, forceKillAfterDelay: 2000 });
  let exited = false;
  void child.finally(() => (exited = true));
  // What QEMU says besides the console: a watchdog that fired (and resets the machine).
  let watchdogFired: string | undefined;
  const onEvent = (event: QmpEvent): void => {
    if (event.event === 'WATCHDOG') watchdogFired ??= String(event.data?.action ?? 'reset');
  };
  const qmp = qmpSocket ? QmpSession.open(qmpSocket, onEvent, { timeoutMs: 10_000, gaveUp: () => exited }) : Promise.resolve(undefined);
  let grace: NodeJS.Timeout | undefined;
  let hostPeakRssBytes: number | undefined;
  const kill = (): void => {
    hostPeakRssBytes ??= peakRss(child.pid);
    child.kill('SIGTERM');
  };
  const killAfter = (ms: number): void => {
    clearTimeout(grace);
    grace = setTimeout(kill, ms);
  };
  // Timeout and abort: with the supervising init, press the power button and give it time to stop the program.
  let poweringDown = false;
  const stop = (): void => {
    if (!qmpSocket || !supervised) return kill();
    if (poweringDown) return;
    poweringDown = true;
    killAfter(POWER_DOWN_GRACE_MS);
    qmp.then((session) => (session ? session.execute('system_powerdown') : qmpCommand(qmpSocket, 'system_powerdown'))).catch(kill);
  };
  const settle = (next: ConsoleVerdict | { kind: 'sampled' } | undefined): void => {
    if (verdict || !next) return;
    verdict = next;
    // The supervising init powers the machine off itself once the program has ended.
    if (next.kind === 'app-exited') killAfter(POWER_OFF_AFTER_EXIT_MS);
    else kill();
  };
  let window: NodeJS.Timeout | undefined;
  const watchWindow = (): void => {
    if (options.firstOutputWindowMs === undefined || window || watcher.firstProgramLineAt === undefined) return;
    window = setTimeout(() => settle({ kind: 'sampled' }), options.firstOutputWindowMs);
  };
  const onLine = (line: string): void => {
    log.line(line);
    options.onConsole?.(line);
    if (!verdict) settle(watcher.feed(line, performance.now() - started));
    watchWindow();
  };
  const splitter = new LineSplitter(onLine);
  // A line without its newline yet: note it now, match it against --expect only once the console is quiet.
  let quiet: NodeJS.Timeout | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    splitter.push(chunk);
    clearTimeout(quiet);
    // Only the head of a partial line after each chunk: a line that never ends must not cost its length every time.
    const head = splitter.partialHead();
    if (verdict || head === '') return;
    const at = performance.now() - started;
    watcher.notePartial(head, at);
    watchWindow();
    const received = splitter.received;
    quiet = setTimeout(() => {
      if (splitter.received === received) settle(watcher.feedPartial(splitter.partial, at));
    }, PARTIAL_LINE_QUIET_MS);
  });
  const timer =
    options.timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stop();
        }, options.timeoutSeconds * 1000);
  const onAbort = (): void => {
    aborted = true;
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  let result;
  try {
    result = await child;
  } finally {
    if (timer) clearTimeout(timer);
    clearTimeout(quiet);
    clearTimeout(grace);
    clearTimeout(window);
    (await qmp)?.close();
    if (runDir) await rm(runDir, { recursive: true, force: true });
    options.signal?.removeEventListener('abort', onAbort);
    splitter.end();
    await log.close();
  }
  const durationMs = performance.now() - started;
  const base = {
    durationMs,
    accel,
    accelReason: reason,
    machine,
    firmware: firmware ? path.basename(firmware) : machine === 'microvm' ? 'bios-microvm.bin' : machine === 'virt' ? 'none (QEMU loads the kernel)' : 'SeaBIOS',
    memoryMiB,
    ...(cmdline !== undefined ? { cmdline } : {}),
    uefi: uefiFirmware !== undefined,
    init: supervised ? ('supervise' as const) : ('direct' as const),
    ...(options.net && options.net.forwards.length > 0 ? { forwards: options.net.forwards.map((f) => `${f.protocol}:${f.hostAddress}:${f.hostPort}->${f.guestPort}`) } : {}),
    command: [qemu, ...args],
    serialLog: options.serialLog,
    ...(watcher.firstProgramLineAt !== undefined ? { firstLineMs: watcher.firstProgramLineAt } : {}),
    ...(hostPeakRssBytes !== undefined ? { hostPeakRssBytes } : {}),
    ...(watcher.kernelClockZeroAt !== undefined ? { kernelStartMs: watcher.kernelClockZeroAt } : {}),
    ...(watcher.initAt !== undefined ? { initMs: watcher.initAt } : {}),
  };
  return {
    ...base,
    ...outcomeOf({
      verdict,
      aborted,
      timedOut,
      poweredDown: qmpSocket !== undefined,
      watchdogFired,
      qemu: { exitCode: result.exitCode, signal: result.signal, stderr: String(result.stderr ?? '') },
      expect: options.expect,
      expectedAt: watcher.expectedAt,
      timeoutSeconds: options.timeoutSeconds,
      lastLines: log.tail(),
      serialLog: options.serialLog,
      command: [qemu, ...args],
    }),
  };
}
