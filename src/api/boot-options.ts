import { Gopid1Error } from '../errors.js';
import type { OutputName } from '../outputs/table.js';
import type { AccelChoice, DiskBus, MachineChoice } from '../qemu/command.js';
import { toRegExp } from '../qemu/console.js';

export interface BootOptions {
  /** An out dir of `build` (default "dist"). */
  dir?: string;
  /** Boot these files instead of the out dir's. */
  kernel?: string;
  initrd?: string;
  /** Boot the out dir's file of this output format, the way the format table says (media and firmware). */
  format?: OutputName;
  /** Boot this disk image instead (raw), attached on `diskBus` (default ide). */
  disk?: string;
  diskBus?: DiskBus;
  /** Boot this EFI application instead (the .efi of --format uki): OVMF starts it from a FAT drive, as EFI/BOOT/BOOTX64.EFI. */
  efi?: string;
  /** Boot this ISO instead (from the CD-ROM drive, or as a disk the way a USB stick made with dd boots). */
  iso?: string;
  isoAs?: 'cdrom' | 'disk';
  /** Boot the ISO through UEFI firmware (OVMF). */
  uefi?: boolean;
  /** Succeed (and stop the machine) once this matches a console line, `expectCount` times. */
  expect?: string | RegExp;
  expectCount?: number;
  /** Match `expect` against every console line (firmware, GRUB, kernel, the supervising init), not only the program's output. */
  expectAnywhere?: boolean;
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
  /** Environment for the program, "KEY=VALUE" each, through fw_cfg (the supervising init reads it; never /proc/cmdline). */
  env?: string[];
  /** Files of KEY=VALUE lines (as `docker run --env-file`); `env` wins over them. */
  envFiles?: string[];
  /** "NAME=FILE" each: /run/secrets/NAME in the machine, mode 0400, owned by the program's user. */
  secrets?: string[];
  /**
   * Serve the run-time configuration (env, envFiles, secrets) as instance user-data through an emulation of the
   * cloud's metadata service at 169.254.169.254, as the machine of a cloud build reads it there, instead of fw_cfg.
   */
  metadataServer?: boolean;
  /**
   * The raw disk image a machine built with --data-disk mounts on /data, written to: made blank (the machine formats
   * it) when it does not exist. Without it such a machine gets a blank scratch disk, removed after the run.
   */
  dataDisk?: string;
  /** Stop this long after the program's first output (outcome `first-output`), e.g. to measure boots. */
  firstOutputWindowMs?: number;
  /** /init is gopid1's supervising init. Default: what the build recorded (direct for --kernel/--initrd/--iso). */
  init?: 'direct' | 'supervise';
  onConsole?: (line: string) => void;
  signal?: AbortSignal;
}

/** Node's timers hold 2^31 - 1 ms; a longer one fires at once. */
const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function checkPositive(value: number | undefined, what: string, example: string): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new Gopid1Error('BAD_INPUT', `${what} must be a positive number, not ${value}`, { hint: `e.g. ${example}` });
  }
}

function checkFigures(options: BootOptions): void {
  checkPositive(options.timeoutSeconds, '--timeout', '--timeout 90');
  if ((options.timeoutSeconds ?? 0) > MAX_TIMEOUT_SECONDS) {
    throw new Gopid1Error('BAD_INPUT', `--timeout must be at most ${MAX_TIMEOUT_SECONDS} s (24 days), not ${options.timeoutSeconds}`, { hint: 'Leave --timeout out to wait as long as the machine runs.' });
  }
  checkPositive(options.memoryMiB, '--memory', '--memory 256');
  if (options.memoryMiB !== undefined && (!Number.isInteger(options.memoryMiB) || options.memoryMiB < 16)) {
    throw new Gopid1Error('BAD_INPUT', `--memory must be a whole number of MiB, at least 16, not ${options.memoryMiB}`, { hint: 'e.g. --memory 256' });
  }
  checkPositive(options.expectCount, '--expect-count', '--expect-count 3');
  if (options.expect !== undefined) toRegExp(options.expect);
}

/** Each of these, when given, excludes the ones listed with it. */
const EXCLUSIVE: Array<{ option: keyof BootOptions; flag: string; excludes: Array<[keyof BootOptions, string]>; hint: string }> = [
  { option: 'disk', flag: '--disk', excludes: [['iso', '--iso'], ['kernel', '--kernel'], ['initrd', '--initrd']], hint: 'Boot one of them.' },
  { option: 'efi', flag: '--efi', excludes: [['disk', '--disk'], ['iso', '--iso'], ['kernel', '--kernel'], ['initrd', '--initrd']], hint: 'Boot one of them.' },
  { option: 'iso', flag: '--iso', excludes: [['kernel', '--kernel'], ['initrd', '--initrd']], hint: 'Boot either an ISO or a kernel and initramfs.' },
];

function checkMedia(options: BootOptions): void {
  for (const { option, flag, excludes, hint } of EXCLUSIVE) {
    if (options[option] === undefined || !excludes.some(([other]) => options[other] !== undefined)) continue;
    const names = excludes.map(([, name]) => name);
    throw new Gopid1Error('BAD_INPUT', `${flag} cannot be combined with ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`, { hint });
  }
  if (options.efi !== undefined && options.cmdline !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--cmdline does not apply to a UKI: its command line is inside it', { hint: 'Pass --cmdline to `gopid1 build` instead.' });
  }
  if (options.diskBus !== undefined && options.disk === undefined && options.format === undefined) {
    throw new Gopid1Error('BAD_INPUT', '--disk-bus needs --disk (or --format raw)', { hint: 'e.g. --disk dist/hello.raw --disk-bus nvme' });
  }
  if (options.isoAs !== undefined && options.iso === undefined) {
    throw new Gopid1Error('BAD_INPUT', '--iso-as needs --iso', { hint: 'e.g. --iso dist/hello.iso --iso-as disk' });
  }
  if ((options.iso !== undefined || options.disk !== undefined) && options.cmdline !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--cmdline does not apply to an ISO or a disk: its command line is in its grub.cfg', { hint: 'Pass --cmdline to `gopid1 build` instead.' });
  }
}

/** Refuses options that are out of range or cannot go together, before anything is read or started. */
export function checkBootOptions(options: BootOptions): void {
  checkFigures(options);
  checkMedia(options);
}
