import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';
import type { InitramfsCompression } from '../initramfs/compress.js';
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
    bzImage: ArtifactRecord;
    /** /init in the initramfs: the program (`init.mode` direct) or the supervising init (supervise). */
    init: ArtifactRecord;
    /** /app in the initramfs: the program, under the supervising init. */
    app?: ArtifactRecord;
    initramfs: ArtifactRecord & { unpackedBytes: number; format: `newc+${InitramfsCompression}`; compressor?: string };
    kernelConfig: ArtifactRecord;
    /** With --iso: the GRUB ISO, USB-hybrid; `uefi` when it also boots under UEFI. */
    iso?: ArtifactRecord & { uefi: boolean; hybrid: true };
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
    ldflags: string;
    flags: string[];
    env: Record<string, string>;
    /** The compile's network (none; older manifests may say bridge). */
    network: 'none' | 'bridge';
    /** Modules that are not vendored were downloaded first, by a step with this network. */
    downloadNetwork?: 'bridge';
    builder: BuilderRecord;
  };
  /** Who is PID 1: the program itself, or gopid1's supervising init with the program as /app. */
  init: { mode: 'direct' } | { mode: 'supervise'; module: string; version: string };
  /** `net`: the kernel has networking and the machine gets a NIC when booted. */
  boot: { cmdline: string; net: boolean };
  iso?: { builder: BuilderRecord; menuTimeoutSeconds: number };
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
