import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readManifest, type Manifest } from '../artifacts/manifest.js';
import { Gopid1Error } from '../errors.js';
import { bootMethodOf, formatsBuilt, outputFormat, provides, type OutputName } from '../outputs/table.js';
import { kernelArchOf } from '../qemu/prepare.js';
import { bootMachine, type BootMachineOptions, type BootResult } from '../qemu/process.js';
import { ARCHES, DEFAULT_OUT_DIR, kernelCmdline, type Arch } from '../plan/vocabulary.js';
import { diskImageFormat, parseForward, type BootMedia } from '../qemu/command.js';
import { checkBootOptions, type BootOptions } from './boot-options.js';
import { runtimeConfig } from '../qemu/run-config.js';
import { attachDataDisk, type AttachedDataDisk } from '../data/attach.js';
import { toRegExp } from '../qemu/console.js';

export type { BootOptions, BootResult };

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


/** A `format` boot as the boot options of the media the format table names for it. */
async function formatMedia(dir: string, options: BootOptions): Promise<BootOptions> {
  const format = outputFormat(options.format as OutputName);
  if (options.iso !== undefined || options.disk !== undefined || options.efi !== undefined || options.kernel !== undefined || options.initrd !== undefined) {
    throw new Gopid1Error('BAD_INPUT', '--format boots a file of the out dir; it cannot be combined with --iso, --disk, --efi, --kernel or --initrd', { hint: `e.g. gopid1 boot ${dir} --format ${format.name}` });
  }
  const manifest = await readManifest(dir);
  if (!manifest) throw new Gopid1Error('BAD_INPUT', `${dir} holds no manifest.json of a gopid1 build`, { hint: `Build it first: gopid1 build <app> --out ${dir} --format ${format.name}` });
  const method = bootMethodOf(format.name, manifest.disk?.boot, archOf(manifest).arch);
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

interface Resolved {
  media: BootMedia;
  manifest?: Manifest;
  /** The initramfs's unpacked size, for the machine's memory. */
  unpackedBytes?: number;
}

/** The manifest of the build a file belongs to, when it sits in its out dir and the build records it. */
async function manifestBeside(file: string, isItsFile: (manifest: Manifest) => boolean): Promise<Manifest | undefined> {
  const beside = await readManifest(path.dirname(file)).catch(() => undefined);
  return beside && isItsFile(beside) ? beside : undefined;
}

/** A kernel and initramfs: given, or the out dir's, with the command line its build recorded. */
async function directMedia(options: BootOptions, dir: string): Promise<Resolved> {
  const manifest = options.kernel && options.initrd ? undefined : await readManifest(dir);
  const kernel = options.kernel ?? path.join(dir, manifest?.artifacts.bzImage.file ?? 'bzImage');
  // Without a manifest, the console the kernel's own architecture has.
  const base = manifest?.boot.cmdline ?? kernelCmdline(undefined, (await kernelArchOf(kernel).catch(() => undefined)) ?? 'amd64');
  const media: BootMedia = {
    kind: 'direct',
    kernel,
    initrd: options.initrd ?? path.join(dir, manifest?.artifacts.initramfs.file ?? 'initramfs.cpio.gz'),
    cmdline: options.cmdline?.trim() ? `${base} ${options.cmdline.trim()}` : base,
  };
  const unpackedBytes = manifest && !options.initrd ? manifest.artifacts.initramfs.unpackedBytes : undefined;
  return { media, ...(manifest ? { manifest } : {}), ...(unpackedBytes !== undefined ? { unpackedBytes } : {}) };
}

/** What to boot, and the build it comes from where that is known. */
async function resolveMedia(options: BootOptions, dir: string): Promise<Resolved> {
  let media: BootMedia;
  let manifest: Manifest | undefined;
  if (options.efi !== undefined) {
    const file = path.resolve(options.efi);
    media = { kind: 'efi', file };
    manifest = await manifestBeside(file, (m) => m.artifacts.uki?.file === path.basename(file));
  } else if (options.disk !== undefined) {
    const file = path.resolve(options.disk);
    manifest = await manifestBeside(file, (m) => Object.values(m.artifacts).some((record) => record.file === path.basename(file)));
    // A PC's disk is IDE; an arm64 machine (virt) has no IDE controller, and boots virtio-blk.
    const bus = options.diskBus ?? (archOf(manifest).arch === 'arm64' ? 'virtio' : 'ide');
    media = { kind: 'disk', file, bus, format: diskImageFormat(file) };
  } else if (options.iso !== undefined) {
    const iso = path.resolve(options.iso);
    media = { kind: 'iso', iso, as: options.isoAs ?? 'cdrom' };
    manifest = await manifestBeside(iso, (m) => m.artifacts.iso?.file === path.basename(iso));
  } else {
    return directMedia(options, dir);
  }
  return { media, ...(manifest ? { manifest } : {}) };
}

/** Whether the machine gets a network card: asked, or what forwards and the build want; checked against the build. */
function networkOf(options: BootOptions, manifest: Manifest | undefined, forwards: number): boolean {
  if (forwards > 0 && manifest && !manifest.boot.net) {
    throw new Gopid1Error('BAD_INPUT', `--forward needs networking in the machine, and ${manifest.name} was built without it`, {
      hint: 'Build with --net (e.g. `gopid1 build <app> --net`), then boot with --forward.',
    });
  }
  const net = options.net ?? (forwards > 0 || (manifest?.boot.net ?? false));
  if (!net && forwards > 0) throw new Gopid1Error('BAD_INPUT', '--forward needs a network card, and --no-net removes it', { hint: 'Drop --no-net.' });
  return net;
}

/** The directory of what is booted: the console log goes there. */
function mediaDirOf(media: BootMedia, options: BootOptions, dir: string): string {
  if (media.kind === 'iso') return path.dirname(media.iso);
  if (media.kind === 'disk' || media.kind === 'efi') return path.dirname(media.file);
  return options.kernel && options.initrd && !options.dir ? path.dirname(path.resolve(options.kernel)) : dir;
}

/** The options of the boot itself (watching, time, machine), as bootMachine takes them. */
function watchOptions(options: BootOptions): Partial<BootMachineOptions> {
  return {
    ...(options.expect !== undefined ? { expect: toRegExp(options.expect) } : {}),
    ...(options.expectCount !== undefined ? { expectCount: options.expectCount } : {}),
    ...(options.expectAnywhere ? { expectAnywhere: true } : {}),
    ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
    ...(options.memoryMiB !== undefined ? { memoryMiB: options.memoryMiB } : {}),
    ...(options.uefi ? { uefi: true } : {}),
    accel: options.accel ?? 'auto',
    machine: options.machine ?? 'auto',
    ...(options.firstOutputWindowMs !== undefined ? { firstOutputWindowMs: options.firstOutputWindowMs } : {}),
    ...(options.onConsole ? { onConsole: options.onConsole } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** Boots an out dir (or a kernel and initramfs) in QEMU and reports how the run ended. */
export async function boot(options: BootOptions = {}): Promise<BootResult> {
  checkBootOptions(options);
  const forwards = (options.forwards ?? []).map(parseForward);
  const dir = path.resolve(options.dir ?? DEFAULT_OUT_DIR);
  if (options.format !== undefined) return boot({ ...(await formatMedia(dir, options)), format: undefined });
  const { media, manifest, unpackedBytes } = await resolveMedia(options, dir);
  const net = networkOf(options, manifest, forwards.length);
  const supervised = (options.init ?? manifest?.init.mode ?? 'direct') === 'supervise';
  const mediaDir = mediaDirOf(media, options, dir);
  const config = await runtimeConfig(options);
  if (config) await checkConfigurable(supervised, manifest, mediaDir);
  const metadata = options.metadataServer ? metadataCloudOf(manifest, net) : undefined;
  const dataDisk = await dataDiskOf(options, manifest);
  try {
    const result = await bootMachine({
      ...watchOptions(options),
      media,
      ...archOf(manifest),
      ...(dataDisk ? { dataDisk: dataDisk.file } : {}),
      ...(metadata ? { metadata } : {}),
      ...(media.kind === 'disk' && manifest?.disk?.boot ? { bootloader: manifest.disk.boot } : {}),
      ...(manifest?.boot.watchdog ? { watchdog: true } : {}),
      ...(config ? { config } : {}),
      ...(unpackedBytes !== undefined ? { unpackedBytes } : {}),
      supervised,
      ...(net ? { net: { forwards } } : {}),
      serialLog: path.join(mediaDir, 'serial.log'),
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
