import path from 'node:path';
import { readManifest, type Manifest } from './artifacts/manifest.js';
import { Gopid1Error } from './errors.js';
import { bootMachine, type BootResult } from './qemu/boot.js';
import { kernelCmdline, parseForward, type AccelChoice, type BootMedia, type MachineChoice } from './qemu/command.js';

export interface BootOptions {
  /** An out dir of `build` (default "dist"). */
  dir?: string;
  /** Boot these files instead of the out dir's. */
  kernel?: string;
  initrd?: string;
  /** Boot this ISO instead (from the CD-ROM drive, or as a disk the way a USB stick made with dd boots). */
  iso?: string;
  isoAs?: 'cdrom' | 'disk';
  /** Boot the ISO through UEFI firmware (OVMF). */
  uefi?: boolean;
  /** Succeed (and stop the machine) once this matches a console line, `expectCount` times. */
  expect?: string | RegExp;
  expectCount?: number;
  timeoutSeconds?: number;
  memoryMiB?: number;
  accel?: AccelChoice;
  /** QEMU machine type: auto (default: pc), pc, q35, microvm (faster start, not reliable under TCG). */
  machine?: MachineChoice;
  /** Appended to the command line the build recorded. */
  cmdline?: string;
  /**
   * Host → guest port forwards through QEMU's user networking, "[tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT"
   * (HOSTADDR defaults to 127.0.0.1). Needs a kernel built with --net.
   */
  forwards?: string[];
  /** Attach a NIC (QEMU user networking). Default: when the build has --net, or forwards are given. */
  net?: boolean;
  /** Stop this long after the program's first output (outcome `first-output`), e.g. to measure boots. */
  firstOutputWindowMs?: number;
  /** /init is gopid1's supervising init. Default: what the build recorded (direct for --kernel/--initrd/--iso). */
  init?: 'direct' | 'supervise';
  onConsole?: (line: string) => void;
  signal?: AbortSignal;
}

export type { BootResult };

function toRegExp(expect: string | RegExp): RegExp {
  if (expect instanceof RegExp) return expect;
  try {
    return new RegExp(expect);
  } catch (error) {
    throw new Gopid1Error('BAD_INPUT', `--expect ${JSON.stringify(expect)} is not a valid regular expression`, {
      hint: 'Use JavaScript regular expression syntax, e.g. --expect "Hello from Golang".',
      cause: error,
    });
  }
}

function checkPositive(value: number | undefined, what: string, example: string): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new Gopid1Error('BAD_INPUT', `${what} must be a positive number, not ${value}`, { hint: `e.g. ${example}` });
  }
}

/** Boots an out dir (or a kernel and initramfs) in QEMU and reports how the run ended. */
export async function boot(options: BootOptions = {}): Promise<BootResult> {
  checkPositive(options.timeoutSeconds, '--timeout', '--timeout 90');
  checkPositive(options.memoryMiB, '--memory', '--memory 256');
  if (options.memoryMiB !== undefined && (!Number.isInteger(options.memoryMiB) || options.memoryMiB < 16)) {
    throw new Gopid1Error('BAD_INPUT', `--memory must be a whole number of MiB, at least 16, not ${options.memoryMiB}`, { hint: 'e.g. --memory 256' });
  }
  checkPositive(options.expectCount, '--expect-count', '--expect-count 3');
  const expect = options.expect === undefined ? undefined : toRegExp(options.expect);
  if (options.iso !== undefined && (options.kernel !== undefined || options.initrd !== undefined)) {
    throw new Gopid1Error('BAD_INPUT', '--iso cannot be combined with --kernel or --initrd', { hint: 'Boot either an ISO or a kernel and initramfs.' });
  }
  if (options.isoAs !== undefined && options.iso === undefined) {
    throw new Gopid1Error('BAD_INPUT', '--iso-as needs --iso', { hint: 'e.g. --iso dist/hello.iso --iso-as disk' });
  }
  if (options.iso !== undefined && options.cmdline !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--cmdline does not apply to an ISO: its command line is in its grub.cfg', { hint: 'Pass --cmdline to `gopid1 build --iso` instead.' });
  }
  const forwards = (options.forwards ?? []).map(parseForward);
  const dir = path.resolve(options.dir ?? 'dist');
  let media: BootMedia;
  let unpackedBytes: number | undefined;
  let manifest: Manifest | undefined;
  if (options.iso !== undefined) {
    media = { kind: 'iso', iso: path.resolve(options.iso), as: options.isoAs ?? 'cdrom' };
    // The ISO's own build, when it sits in its out dir.
    const beside = await readManifest(path.dirname(media.iso)).catch(() => undefined);
    if (beside?.artifacts.iso?.file === path.basename(media.iso)) manifest = beside;
  } else {
    manifest = options.kernel && options.initrd ? undefined : await readManifest(dir);
    const base = manifest?.boot.cmdline ?? kernelCmdline();
    media = {
      kind: 'direct',
      kernel: options.kernel ?? path.join(dir, manifest?.artifacts.bzImage.file ?? 'bzImage'),
      initrd: options.initrd ?? path.join(dir, manifest?.artifacts.initramfs.file ?? 'initramfs.cpio.gz'),
      cmdline: options.cmdline?.trim() ? `${base} ${options.cmdline.trim()}` : base,
    };
    if (manifest && !options.initrd) unpackedBytes = manifest.artifacts.initramfs.unpackedBytes;
  }
  if (forwards.length > 0 && manifest && !manifest.boot.net) {
    throw new Gopid1Error('BAD_INPUT', `--forward needs networking in the machine, and ${manifest.name} was built without it`, {
      hint: 'Build with --net (e.g. `gopid1 build <app> --net`), then boot with --forward.',
    });
  }
  const net = options.net ?? (forwards.length > 0 || (manifest?.boot.net ?? false));
  if (!net && forwards.length > 0) throw new Gopid1Error('BAD_INPUT', '--forward needs a network card, and --no-net removes it', { hint: 'Drop --no-net.' });
  const supervised = (options.init ?? manifest?.init.mode ?? 'direct') === 'supervise';
  // The console goes next to what is booted: the out dir, or the ISO's directory.
  const consoleDir = options.iso !== undefined ? path.dirname(path.resolve(options.iso)) : options.kernel && options.initrd && !options.dir ? path.dirname(path.resolve(options.kernel)) : dir;
  return bootMachine({
    media,
    ...(options.uefi ? { uefi: true } : {}),
    ...(unpackedBytes !== undefined ? { unpackedBytes } : {}),
    ...(expect ? { expect } : {}),
    ...(options.expectCount !== undefined ? { expectCount: options.expectCount } : {}),
    ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
    ...(options.memoryMiB !== undefined ? { memoryMiB: options.memoryMiB } : {}),
    accel: options.accel ?? 'auto',
    machine: options.machine ?? 'auto',
    supervised,
    ...(net ? { net: { forwards } } : {}),
    ...(options.firstOutputWindowMs !== undefined ? { firstOutputWindowMs: options.firstOutputWindowMs } : {}),
    serialLog: path.join(consoleDir, 'serial.log'),
    ...(options.onConsole ? { onConsole: options.onConsole } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
