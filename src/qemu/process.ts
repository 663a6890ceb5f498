import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { BOOT_DIR_PREFIX } from '../artifacts/leftovers.js';
import { Gopid1Error, interrupted } from '../errors.js';
import { LineSplitter } from '../lines.js';
import { openLog } from '../logs.js';
import { ConsoleWatcher, type ConsoleVerdict } from './console.js';
import { defaultMemoryMiB, findOnPath, findOvmf, findQboot, findQemu, qemuArgs, resolveAccel, resolveMachine, type AccelChoice, type BootMedia, type Forward, type MachineChoice, type MachineType } from './command.js';
import { fwCfgItems, type RuntimeConfig } from './run-config.js';
import { metadataService, type MetadataCloud } from './metadata.js';
import { outcomeOf } from './outcome.js';
import { qmpCommand, QmpSession, type QmpEvent } from './qmp.js';

/** How long an incomplete console line must stay unchanged before --expect may match it. */
const PARTIAL_LINE_QUIET_MS = 200;
/**
 * After the power button: the supervising init gives the program 10 s after SIGTERM, and what it left running
 * 2 s, before it powers off; QEMU is killed if it is still running after this.
 */
const POWER_DOWN_GRACE_MS = 15_000;
/** After the supervising init reported the program's end: time to stop leftovers and power off. */
const POWER_OFF_AFTER_EXIT_MS = 8_000;

export interface BootMachineOptions {
  /** A kernel + initramfs (direct boot), or an ISO as CD-ROM or disk. */
  media: BootMedia;
  /** Boot through OVMF (UEFI) instead of SeaBIOS; ISO media only. */
  uefi?: boolean;
  /** The machine feeds a watchdog (gopid1 build --watchdog): attach QEMU's i6300esb and report when it fires. */
  watchdog?: boolean;
  /** Environment and secrets for the supervising init, through fw_cfg. */
  config?: RuntimeConfig;
  /** Emulate this cloud's metadata service, serving `config` as the instance's user-data instead of fw_cfg. */
  metadata?: MetadataCloud;
  /** A raw disk image the machine mounts on /data (virtio-blk, written to). */
  dataDisk?: string;
  /** What starts the kernel of a disk: GRUB (default), or the UKI on its ESP (--boot uki). */
  bootloader?: 'grub' | 'uki';
  /** Bytes the initramfs unpacks to, for the default memory size; estimated when unknown. */
  unpackedBytes?: number;
  /** Stop with success once this regular expression has matched `expectCount` console lines. */
  expect?: RegExp;
  expectCount?: number;
  /** Try `expect` on every console line, not only the program's. */
  expectAnywhere?: boolean;
  /** Give up after this many seconds (no limit when undefined). */
  timeoutSeconds?: number;
  memoryMiB?: number;
  accel?: AccelChoice;
  /** QEMU machine type; `auto` (default) is pc. */
  machine?: MachineChoice;
  /**
   * /init is gopid1's supervising init: its "gopid1: app exited …" line ends the run, and stopping the machine
   * (timeout, abort) presses the ACPI power button and waits for a clean power-off before killing QEMU.
   */
  supervised?: boolean;
  /** Attach a virtio NIC on QEMU's user networking, with these host → guest port forwards. */
  net?: { forwards: Forward[] };
  /** Stop this long after the program's first output (outcome `first-output`): for measurements. */
  firstOutputWindowMs?: number;
  /** The console is written here, one line per line. */
  serialLog: string;
  onConsole?: (line: string) => void;
  signal?: AbortSignal;
}

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

async function mustExist(file: string, what: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a file');
    return info.size;
  } catch {
    throw new Gopid1Error('BAD_INPUT', `${what} ${file} does not exist`, {
      hint: what === 'ISO' ? 'Build one with `gopid1 build <app> --iso` (add --uefi for UEFI), then boot <out>/<name>.iso.' : what === 'disk' ? 'Build one with `gopid1 build <app> --format raw`, then boot <out>/<name>.raw.' : what === 'EFI application' ? 'Build one with `gopid1 build <app> --format uki`, then boot <out>/<name>.efi.' : 'Run `gopid1 build <app> --out <dir>` first, then boot that directory.',
    });
  }
}

/** The bytes at `offset` of a file (fewer at its end). */
async function bytesAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Refuses a file that is not what it is booted as, before QEMU says something obscure about it: a kernel must
 * carry the x86 boot protocol's "HdrS" header, an ISO the ISO 9660 "CD001" volume descriptor.
 */
const SIGNATURES = {
  kernel: [0x202, 'HdrS', 'a Linux bzImage (no "HdrS" boot header at 0x202)', 'Pass the bzImage of `gopid1 build` (or of any x86 kernel build) with --kernel.'],
  ISO: [0x8001, 'CD001', 'an ISO 9660 image (no "CD001" volume descriptor at 0x8001)', 'Pass the .iso of `gopid1 build --iso` with --iso.'],
  disk: [0x1fe, '\x55\xaa', 'a bootable disk image (no boot signature 55 AA at 0x1fe)', 'Pass the .raw disk of `gopid1 build --format raw` with --disk.'],
  qcow2: [0, 'QFI\xfb', 'a qcow2 image (no "QFI" magic at 0)', 'Pass the .qcow2 of `gopid1 build --format qcow2` with --disk.'],
  vmdk: [0, 'KDMV', 'a VMDK (no "KDMV" magic at 0)', 'Pass the .vmdk of `gopid1 build --format vmdk` with --disk.'],
  efi: [0, 'MZ', 'an EFI application (no "MZ" PE header at 0)', 'Pass the .efi of `gopid1 build --format uki` with --efi.'],
} as const;

/** What prints before the kernel: nothing for a direct boot, the firmware alone for a UKI, GRUB for ISOs and disks unless told. */
function bootloaderOf(media: BootMedia, disk: 'grub' | 'uki' | undefined): { bootloader?: 'grub' | 'uki' } {
  if (media.kind === 'direct') return {};
  if (media.kind === 'efi') return { bootloader: 'uki' };
  return { bootloader: media.kind === 'disk' ? (disk ?? 'grub') : 'grub' };
}

/** A directory in `dir` that holds `file` as EFI/BOOT/BOOTX64.EFI: a FAT drive's contents for UEFI's removable-media path. */
async function espHolding(file: string, dir: string): Promise<string> {
  const esp = path.join(dir, 'esp');
  await mkdir(path.join(esp, 'EFI', 'BOOT'), { recursive: true });
  await copyFile(file, path.join(esp, 'EFI', 'BOOT', 'BOOTX64.EFI'));
  return esp;
}

async function mustBe(file: string, what: keyof typeof SIGNATURES): Promise<void> {
  const [offset, magic, description, hint] = SIGNATURES[what];
  if ((await bytesAt(file, offset, magic.length)).toString('latin1') !== magic) {
    throw new Gopid1Error('BAD_INPUT', `${file} is not ${description}`, { hint });
  }
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
  let imageBytes: number;
  if (media.kind === 'direct') {
    imageBytes = await mustExist(media.initrd, 'initramfs');
    await mustExist(media.kernel, 'kernel');
    await mustBe(media.kernel, 'kernel');
  } else if (media.kind === 'iso') {
    imageBytes = await mustExist(media.iso, 'ISO');
    await mustBe(media.iso, 'ISO');
  } else if (media.kind === 'efi') {
    imageBytes = await mustExist(media.file, 'EFI application');
    await mustBe(media.file, 'efi');
  } else {
    imageBytes = await mustExist(media.file, 'disk');
    await mustBe(media.file, media.format === 'raw' || media.format === 'vpc' ? 'disk' : media.format);
  }
  if (options.uefi && media.kind === 'direct') {
    throw new Gopid1Error('BAD_INPUT', '--uefi boots an ISO or a disk through UEFI firmware; a direct kernel boot has no firmware step', { hint: 'Build with --uefi and boot with --iso <dir>/<name>.iso --uefi.' });
  }
  const machine = resolveMachine(options.machine ?? 'auto', media.kind);
  const qemu = await findQemu();
  // Only UEFI firmware starts an EFI application.
  const uefi = options.uefi === true || media.kind === 'efi';
  const uefiFirmware = uefi ? await findOvmf() : undefined;
  // A kernel booted directly needs no BIOS services: qboot (microvm brings its own firmware).
  const firmware = uefiFirmware ?? (media.kind === 'direct' && machine !== 'microvm' ? await findQboot() : undefined);
  const { accel, reason } = await resolveAccel(options.accel ?? 'auto');
  // OVMF itself wants room beyond what the kernel and initramfs need.
  const memoryMiB = options.memoryMiB ?? Math.max(defaultMemoryMiB(imageBytes, options.unpackedBytes ?? imageBytes * 3), uefiFirmware ? 256 : 0);
  const supervised = options.supervised ?? false;
  if (options.signal?.aborted) throw interrupted('boot');
  const watchdog = options.watchdog === true;
  // The run's own files: the QMP socket (the power button is pressed through it, only the supervising init listens
  // to it; a watchdog's firing comes back through it) and an EFI application's FAT drive. Named with this process's
  // id: `gopid1 clean` removes those of runs that died.
  const runDir = supervised || watchdog || options.config || options.metadata || media.kind === 'efi' ? await mkdtemp(path.join(os.tmpdir(), `${BOOT_DIR_PREFIX}${process.pid}-`)) : undefined;
  const qmpSocket = runDir && (supervised || watchdog) ? path.join(runDir, 'qmp.sock') : undefined;
  const esp = runDir && media.kind === 'efi' ? await espHolding(media.file, runDir) : undefined;
  const metadata = runDir && options.metadata ? await metadataService(options.metadata, options.config, runDir) : undefined;
  const fwCfg = metadata ? metadata.fwCfg : runDir && options.config ? await fwCfgItems(options.config, runDir) : [];
  const net = options.net && metadata ? { ...options.net, netdev: metadata.netdev } : options.net;
  const args = qemuArgs({ media, machine, memoryMiB, accel, watchdog, fwCfg, ...(options.dataDisk !== undefined ? { dataDisk: options.dataDisk } : {}), ...(firmware ? { firmware } : {}), ...(net ? { net } : {}), ...(qmpSocket ? { qmpSocket } : {}), ...(esp ? { esp } : {}) });
  const cmdline = media.kind === 'direct' ? media.cmdline : undefined;

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
    firmware: firmware ? path.basename(firmware) : machine === 'microvm' ? 'bios-microvm.bin' : 'SeaBIOS',
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
