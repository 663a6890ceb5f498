import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';
import type { BuildSpec } from '../plan/options.js';
import type { DiskBoot, Firmware, InitramfsCompression } from '../plan/vocabulary.js';
import { sha256File } from './files.js';

export interface ArtifactRecord {
  /** File name inside the out dir. */
  file: string;
  bytes: number;
  sha256: string;
}

export interface BuilderRecord {
  tag: string;
  id: string;
  /** Debian packages in the image, "name=version". */
  packages: string[];
}

/** manifest.json: what was built, from what, with what. Holds no host paths and no secrets. */
export interface Manifest {
  schema: 1;
  tool: { name: 'gopid1'; version: string };
  name: string;
  sourceDateEpoch: number;
  artifacts: {
    /** The kernel image: bzImage (amd64), or Image (arm64), as its `file` says. */
    bzImage: ArtifactRecord;
    /** /init in the initramfs: the program (`init.mode` direct) or the supervising init (supervise). */
    init: ArtifactRecord;
    /** /app in the initramfs: the program, under the supervising init. */
    app?: ArtifactRecord;
    initramfs: ArtifactRecord & { unpackedBytes: number; format: `newc+${InitramfsCompression}`; compressor?: string };
    kernelConfig: ArtifactRecord;
    /** With --iso: the GRUB ISO, USB-hybrid; `uefi` when it boots under UEFI; `firmware` all it boots under (absent before arm64 ISOs). */
    iso?: ArtifactRecord & { uefi: boolean; firmware?: Firmware[]; hybrid: true };
    /** With --format raw: a GPT disk booting under BIOS and UEFI (GRUB), or under UEFI from a UKI (--boot uki). */
    raw?: ArtifactRecord & { partitioning: 'gpt'; firmware: Firmware[]; diskGuid: string };
    /** The raw disk converted (--format qcow2, vmdk, vhd, gcp); `diskBytes` is the virtual size. */
    qcow2?: ArtifactRecord & { diskBytes: number };
    vmdk?: ArtifactRecord & { diskBytes: number };
    vhd?: ArtifactRecord & { diskBytes: number };
    gcp?: ArtifactRecord & { diskBytes: number };
    /** With --format aws: the raw disk for EC2 (the kernel has the aws drivers and ip=dhcp). */
    aws?: ArtifactRecord & { partitioning: 'gpt'; firmware: Firmware[]; diskGuid: string };
    /** With --format uki: a Unified Kernel Image (systemd-stub + kernel + initramfs + command line), an EFI application. */
    uki?: ArtifactRecord & { firmware: ['uefi']; cmdline: string };
    /**
     * With --data-disk: an empty ext4 filesystem on a whole disk (raw, sparse). Its `sha256` is of the image's
     * non-zero runs in gopid1's sparse form (`hashed: "sparse"`), not of every byte: a data disk may be terabytes.
     */
    dataDisk?: ArtifactRecord & { hashed: 'sparse' };
  };
  kernel: {
    source: string;
    sourceSha256?: string;
    release: string;
    config: string;
    fragments: { name: string; sha256: string }[];
    configSha256: string;
    /** How bzImage is compressed (from the final .config). */
    compression: string;
    sourceDateEpoch: number;
    builder: BuilderRecord;
    fromCache: boolean;
  };
  go: {
    module: string;
    package: string;
    version: string;
    cgo: boolean;
    /** Go build tags the build was given (absent: none; with cgo, netgo and osusergo come on top). */
    tags?: string[];
    ldflags: string;
    flags: string[];
    env: Record<string, string>;
    /** The compile's network (none; older manifests may say bridge). */
    network: 'none' | 'bridge';
    /** Modules that are not vendored were downloaded first, by a step with this network. */
    downloadNetwork?: 'bridge';
    builder: BuilderRecord;
    /** The program came from gopid1's cache (absent in manifests older than that cache). */
    fromCache?: boolean;
  };
  /** Who is PID 1: the program itself, or gopid1's supervising init with the program as /app. */
  init:
    | { mode: 'direct' }
    | { mode: 'supervise'; module: string; version: string; /** Absent: no. */ restart?: { policy: string; max: number }; health?: Record<string, unknown>; watchdog?: { seconds: number }; /** The names of the default environment (not the values). */ env?: string[]; user?: { uid: number; gid: number }; /** The cloud whose metadata service gives the instance's user-data. */ metadata?: 'aws' | 'gcp' };
  /** `net`: the kernel has networking and the machine gets a NIC when booted. `watchdog`: it feeds one, and gets one when booted. */
  boot: { cmdline: string; net: boolean; watchdog?: boolean; /** The machine mounts a data disk on /data: `gopid1 boot` attaches one of this size when none is given. */ dataDisk?: { bytes: number } };
  /** How the data disk was made (--data-disk). */
  dataDisk?: { builder: BuilderRecord; uuid: string; mountpoint: '/data' };
  iso?: { builder: BuilderRecord; menuTimeoutSeconds: number };
  /** How the disk formats were made. */
  disk?: {
    builder: BuilderRecord;
    menuTimeoutSeconds: number;
    /** The disk's size (--disk-size), and the smallest that fits. */
    bytes?: number;
    minimumBytes?: number;
    /** What starts the disk: GRUB (BIOS + UEFI), or the UKI as EFI/BOOT/BOOTX64.EFI (UEFI). Absent in older manifests: grub. */
    boot?: DiskBoot;
  };
  /** How the UKI was made (--format uki, or a disk with --boot uki). */
  uki?: { builder: BuilderRecord };
  /** The build plan (planBuild): every setting, defaults resolved, without host paths. Absent in older manifests. */
  plan?: Record<string, unknown>;
  /** The options the build was given (a spec: paths relative to the app directory); `build <app> --spec manifest.json` builds it again. */
  spec?: BuildSpec;
}

/** What the manifest keeps of a builder image (the engine's BuilderImage has these and more). */
export function builderRecord(image: BuilderRecord): BuilderRecord {
  return { tag: image.tag, id: image.id, packages: image.packages };
}

export async function artifactRecord(dir: string, file: string): Promise<ArtifactRecord> {
  const full = path.join(dir, file);
  return { file, bytes: (await stat(full)).size, sha256: await sha256File(full) };
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, 'manifest.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const manifest = JSON.parse(text) as Manifest;
    if (manifest.schema !== 1) throw new Error(`schema ${String(manifest.schema)}`);
    // Written before gopid1 had --init and --net: the program was PID 1, without networking.
    manifest.init ??= { mode: 'direct' };
    manifest.boot.net ??= false;
    return manifest;
  } catch (error) {
    throw new Gopid1Error('BAD_INPUT', `${path.join(dir, 'manifest.json')} is not a gopid1 manifest`, {
      hint: 'Rebuild the directory with `gopid1 build`, or boot with --kernel and --initrd.',
      cause: error,
    });
  }
}
