import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readManifest, type Manifest } from '../artifacts/manifest.js';
import { Gopid1Error } from '../errors.js';
import { bootMethodOf, formatsBuilt, outputFormat, provides, type OutputName } from '../outputs/table.js';
import { kernelArchOf } from '../qemu/prepare.js';
import { bootMachine, type BootResult } from '../qemu/process.js';
import { ARCHES, DEFAULT_OUT_DIR, kernelCmdline, type Arch } from '../plan/vocabulary.js';
import { diskImageFormat, parseForward, type AccelChoice, type BootMedia, type DiskBus, type MachineChoice } from '../qemu/command.js';
import { runtimeConfig } from '../qemu/run-config.js';
import { attachDataDisk, type AttachedDataDisk } from '../data/attach.js';
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

export type { BootResult };

/** The cloud whose metadata service --metadata-server emulates: the one the machine asks (a DHCP guest: the network moves). */
function metadataCloudOf(manifest: Manifest | undefined, net: boolean): 'aws' | 'gcp' {
  const cloud = manifest?.init.mode === 'supervise' ? manifest.init.metadata : undefined;
  if (cloud === undefined) {
    throw new Gopid1Error('BAD_INPUT', `--metadata-server: ${manifest?.name ?? 'the machine'} does not ask a metadata service for user-data`, { hint: 'Build it for a cloud under the supervising init: e.g. --format aws --init supervise (or --cloud aws|gcp).' });
  }
  if (!net) throw new Gopid1Error('BAD_INPUT', '--metadata-server needs a network card, and --no-net removes it', { hint: 'Drop --no-net.' });
  if (/(^|\s)ip=\d/.test(manifest?.boot.cmdline ?? '')) {
    throw new Gopid1Error('BAD_INPUT', '--metadata-server moves the machine to 169.254.169.0/24, and its address is static (--ip)', { hint: 'Boot it without --metadata-server, or build it with DHCP, as clouds give addresses.' });
  }
  return cloud;
}

/** The data disk of this boot: what the machine mounts on /data, when it was built to (manifest.boot.dataDisk). */
async function dataDiskOf(options: BootOptions, manifest: Manifest | undefined): Promise<AttachedDataDisk | undefined> {
  const built = manifest?.boot.dataDisk;
  if (built) return attachDataDisk(options.dataDisk, built.bytes);
  if (options.dataDisk === undefined) return undefined;
  if (manifest) {
    throw new Gopid1Error('BAD_INPUT', `${manifest.name} was built without --data-disk: nothing in it mounts a data disk`, { hint: 'Build it with --data-disk SIZE (e.g. --data-disk 1g), then boot with --data-disk FILE.' });
  }
  return attachDataDisk(options.dataDisk, undefined);
}


const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function checkPositive(value: number | undefined, what: string, example: string): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new Gopid1Error('BAD_INPUT', `${what} must be a positive number, not ${value}`, { hint: `e.g. ${example}` });
  }
}

/** A `format` boot as the boot options of the media the format table names for it. */
async function formatMedia(dir: string, options: BootOptions): Promise<BootOptions> {
  const format = outputFormat(options.format as OutputName);
  if (options.iso !== undefined || options.disk !== undefined || options.efi !== undefined || options.kernel !== undefined || options.initrd !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--format boots a file of the out dir; it cannot be combined with --iso, --disk, --efi, --kernel or --initrd', { hint: `e.g. gopid1 boot ${dir} --format ${format.name}` });
  }
  const manifest = await readManifest(dir);
  if (!manifest) throw new Gopid1Error('BAD_INPUT', `${dir} holds no manifest.json of a gopid1 build`, { hint: `Build it first: gopid1 build <app> --out ${dir} --format ${format.name}` });
  const method = bootMethodOf(format.name, manifest.disk?.boot);
  if (method === undefined) throw new Gopid1Error('BAD_INPUT', `the ${format.name} format is for import, not for booting here`, { hint: `Boot the raw disk it holds: build with --format raw and boot with --format raw.` });
  const file = path.join(dir, format.file(manifest.name));
  if (!provides(formatsBuilt(manifest), format.name)) throw new Gopid1Error('BAD_INPUT', `${manifest.name} in ${dir} was built without the ${format.name} format`, { hint: `Build it with --format ${format.name}, then boot it.` });
  const { media, firmware, bus, machine } = method;
  return {
    ...options,
    ...(media === 'cdrom' ? { iso: file } : media === 'efi' ? { efi: file } : { disk: file }),
    ...(firmware === 'uefi' ? { uefi: true } : {}),
    ...(bus !== undefined && options.diskBus === undefined ? { diskBus: bus } : {}),
    ...(machine !== undefined && (options.machine ?? 'auto') === 'auto' ? { machine } : {}),
  };
}

/**
 * Run-time configuration needs the supervising init, which reads it, and a kernel with the fw_cfg driver that shows
 * it (every gopid1 kernel since the minimal fragment has FW_CFG_SYSFS; a defconfig or older one may not).
 */
async function checkConfigurable(supervised: boolean, manifest: Manifest | undefined, dir: string): Promise<void> {
  if (!supervised) {
    throw new Gopid1Error('BAD_INPUT', '--env, --env-file and --secret need the supervising init, which hands them to the program', {
      hint: 'Build with --init supervise (or --restart, --health, --watchdog, --env, --user, which bring it); a direct init gets its environment from --cmdline.',
    });
  }
  const config = manifest ? await readFile(path.join(dir, manifest.artifacts.kernelConfig.file), 'utf8').catch(() => undefined) : undefined;
  if (config !== undefined && !/^CONFIG_FW_CFG_SYSFS=y$/m.test(config)) {
    throw new Gopid1Error('BAD_INPUT', `the kernel of ${manifest?.name ?? dir} has no fw_cfg driver (CONFIG_FW_CFG_SYSFS), which --env, --env-file and --secret travel through`, {
      hint: 'Rebuild it with this gopid1 (the minimal kernel has it), or add CONFIG_FW_CFG_SYSFS=y with --kernel-fragment.',
    });
  }
}

/** Boots an out dir (or a kernel and initramfs) in QEMU and reports how the run ended. */
export async function boot(options: BootOptions = {}): Promise<BootResult> {
  checkPositive(options.timeoutSeconds, '--timeout', '--timeout 90');
  // Node's timers hold 2^31 - 1 ms; a longer one fires at once.
  if ((options.timeoutSeconds ?? 0) > MAX_TIMEOUT_SECONDS) {
    throw new Gopid1Error('BAD_INPUT', `--timeout must be at most ${MAX_TIMEOUT_SECONDS} s (24 days), not ${options.timeoutSeconds}`, { hint: 'Leave --timeout out to wait as long as the machine runs.' });
  }
  checkPositive(options.memoryMiB, '--memory', '--memory 256');
  if (options.memoryMiB !== undefined && (!Number.isInteger(options.memoryMiB) || options.memoryMiB < 16)) {
    throw new Gopid1Error('BAD_INPUT', `--memory must be a whole number of MiB, at least 16, not ${options.memoryMiB}`, { hint: 'e.g. --memory 256' });
  }
  checkPositive(options.expectCount, '--expect-count', '--expect-count 3');
  const expect = options.expect === undefined ? undefined : toRegExp(options.expect);
  if (options.disk !== undefined && (options.iso !== undefined || options.kernel !== undefined || options.initrd !== undefined)) {
    throw new Gopid1Error('BAD_INPUT', '--disk cannot be combined with --iso, --kernel or --initrd', { hint: 'Boot one of them.' });
  }
  if (options.efi !== undefined && (options.disk !== undefined || options.iso !== undefined || options.kernel !== undefined || options.initrd !== undefined)) {
    throw new Gopid1Error('BAD_INPUT', '--efi cannot be combined with --disk, --iso, --kernel or --initrd', { hint: 'Boot one of them.' });
  }
  if (options.efi !== undefined && options.cmdline !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--cmdline does not apply to a UKI: its command line is inside it', { hint: 'Pass --cmdline to `gopid1 build` instead.' });
  }
  if (options.diskBus !== undefined && options.disk === undefined && options.format === undefined) {
    throw new Gopid1Error('BAD_INPUT', '--disk-bus needs --disk (or --format raw)', { hint: 'e.g. --disk dist/hello.raw --disk-bus nvme' });
  }
  if (options.iso !== undefined && (options.kernel !== undefined || options.initrd !== undefined)) {
    throw new Gopid1Error('BAD_INPUT', '--iso cannot be combined with --kernel or --initrd', { hint: 'Boot either an ISO or a kernel and initramfs.' });
  }
  if (options.isoAs !== undefined && options.iso === undefined) {
    throw new Gopid1Error('BAD_INPUT', '--iso-as needs --iso', { hint: 'e.g. --iso dist/hello.iso --iso-as disk' });
  }
  if ((options.iso !== undefined || options.disk !== undefined) && options.cmdline !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--cmdline does not apply to an ISO or a disk: its command line is in its grub.cfg', { hint: 'Pass --cmdline to `gopid1 build` instead.' });
  }
  const forwards = (options.forwards ?? []).map(parseForward);
  const dir = path.resolve(options.dir ?? DEFAULT_OUT_DIR);
  if (options.format !== undefined) return boot({ ...(await formatMedia(dir, options)), format: undefined });
  let media: BootMedia;
  let unpackedBytes: number | undefined;
  let manifest: Manifest | undefined;
  if (options.efi !== undefined) {
    media = { kind: 'efi', file: path.resolve(options.efi) };
    const beside = await readManifest(path.dirname(media.file)).catch(() => undefined);
    if (beside?.artifacts.uki?.file === path.basename(media.file)) manifest = beside;
  } else if (options.disk !== undefined) {
    const file = path.resolve(options.disk);
    media = { kind: 'disk', file, bus: options.diskBus ?? 'ide', format: diskImageFormat(file) };
    const beside = await readManifest(path.dirname(file)).catch(() => undefined);
    if (beside && Object.values(beside.artifacts).some((record) => record.file === path.basename(file))) manifest = beside;
  } else if (options.iso !== undefined) {
    media = { kind: 'iso', iso: path.resolve(options.iso), as: options.isoAs ?? 'cdrom' };
    // The ISO's own build, when it sits in its out dir.
    const beside = await readManifest(path.dirname(media.iso)).catch(() => undefined);
    if (beside?.artifacts.iso?.file === path.basename(media.iso)) manifest = beside;
  } else {
    manifest = options.kernel && options.initrd ? undefined : await readManifest(dir);
    const kernel = options.kernel ?? path.join(dir, manifest?.artifacts.bzImage.file ?? 'bzImage');
    // Without a manifest, the console the kernel's own architecture has.
    const base = manifest?.boot.cmdline ?? kernelCmdline(undefined, (await kernelArchOf(kernel).catch(() => undefined)) ?? 'amd64');
    media = {
      kind: 'direct',
      kernel,
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
  const config = await runtimeConfig(options);
  if (config) await checkConfigurable(supervised, manifest, media.kind === 'direct' ? dir : path.dirname(media.kind === 'iso' ? media.iso : media.file));
  // The console goes next to what is booted: the out dir, or the ISO's directory.
  const consoleDir = media.kind === 'iso' ? path.dirname(media.iso) : media.kind === 'disk' || media.kind === 'efi' ? path.dirname(media.file) : options.kernel && options.initrd && !options.dir ? path.dirname(path.resolve(options.kernel)) : dir;
  const metadata = options.metadataServer ? metadataCloudOf(manifest, net) : undefined;
  const dataDisk = await dataDiskOf(options, manifest);
  try {
    const result = await bootMachine({
      media,
      ...archOf(manifest),
      ...(dataDisk ? { dataDisk: dataDisk.file } : {}),
      ...(metadata ? { metadata } : {}),
      ...(options.uefi ? { uefi: true } : {}),
      ...(media.kind === 'disk' && manifest?.disk?.boot ? { bootloader: manifest.disk.boot } : {}),
      ...(manifest?.boot.watchdog ? { watchdog: true } : {}),
      ...(config ? { config } : {}),
      ...(unpackedBytes !== undefined ? { unpackedBytes } : {}),
      ...(expect ? { expect } : {}),
      ...(options.expectCount !== undefined ? { expectCount: options.expectCount } : {}),
      ...(options.expectAnywhere ? { expectAnywhere: true } : {}),
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
    return dataDisk ? { ...result, dataDisk: { file: dataDisk.file, created: dataDisk.created, scratch: dataDisk.scratch } } : result;
  } finally {
    await dataDisk?.dispose();
  }
}

/** The architecture a manifest's plan records (absent in manifests older than plans: amd64 then). */
function archOf(manifest: Manifest | undefined): { arch?: Arch } {
  const arch = manifest?.plan?.arch;
  return ARCHES.includes(arch as Arch) ? { arch: arch as Arch } : {};
}
