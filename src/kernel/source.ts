import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256File } from '../artifacts/files.js';
import { trustedKeys, verifiedSums } from './signature.js';
import { Gopid1Error, describeError, interrupted } from '../errors.js';

/** Where the kernel source comes from. */
export type KernelSource =
  /** The linux-source package of a Debian release, installed in the kernel builder image. */
  | { kind: 'debian'; series: string }
  /** A release tarball from kernel.org, checked against a sha256. */
  | { kind: 'kernel.org'; version: string }
  /** A local .tar/.tar.gz/.tar.xz/.tar.zst of a source tree. */
  | { kind: 'tarball'; path: string }
  /** A local, clean source tree. */
  | { kind: 'tree'; path: string };

const TARBALL = /\.tar(\.(gz|xz|bz2|zst))?$|\.tgz$/;

/**
 * Checks the form of a kernel source, without touching the disk: "debian:<series>" and "kernel.org:<version>"
 * are complete; anything else is a local path, which parseKernelSource looks at.
 */
export function parseSourceSpec(spec: string): KernelSource | { kind: 'local'; path: string } {
  const debian = /^debian:(.*)$/.exec(spec);
  if (debian) {
    const series = debian[1] ?? '';
    if (!/^[a-z]+$/.test(series)) {
      throw new Gopid1Error('BAD_INPUT', `unknown Debian release "${series}" in kernelSource ${spec}`, {
        hint: 'Name a Debian release by its code name, e.g. debian:trixie (Linux 6.12) or debian:bookworm (Linux 6.1).',
        field: 'kernelSource',
      });
    }
    return { kind: 'debian', series };
  }
  const org = /^kernel\.org:(.*)$/.exec(spec);
  if (org) {
    const version = org[1] ?? '';
    if (!/^\d+\.\d+(\.\d+)?$/.test(version)) {
      throw new Gopid1Error('BAD_INPUT', `"${version}" is not a kernel.org release version`, {
        hint: 'Use a release number such as kernel.org:6.12.8 (no "v", no -rc).',
        field: 'kernelSource',
      });
    }
    return { kind: 'kernel.org', version };
  }
  return { kind: 'local', path: spec };
}

/** Resolves a kernel source: "debian:<series>", "kernel.org:<version>", or a path to a tarball or a tree. */
export async function parseKernelSource(spec: string): Promise<KernelSource> {
  const parsed = parseSourceSpec(spec);
  if (parsed.kind !== 'local') return parsed;
  let info;
  try {
    info = await stat(spec);
  } catch {
    throw new Gopid1Error('BAD_INPUT', `kernel source "${spec}" is neither debian:<series>, kernel.org:<version>, nor an existing file or directory`, {
      hint: 'Examples: --kernel-source debian:trixie, --kernel-source kernel.org:6.12.8, --kernel-source ./linux-6.12.tar.xz, --kernel-source ~/src/linux',
    });
  }
  if (info.isDirectory()) {
    try {
      await stat(path.join(spec, 'Makefile'));
      await stat(path.join(spec, 'arch', 'x86'));
    } catch {
      throw new Gopid1Error('BAD_INPUT', `${spec} is not a Linux source tree (no Makefile or arch/x86)`, {
        hint: 'Point --kernel-source at the top of an unpacked Linux source tree.',
      });
    }
    return { kind: 'tree', path: path.resolve(spec) };
  }
  if (!TARBALL.test(spec)) {
    throw new Gopid1Error('BAD_INPUT', `${spec} is not a source tarball (.tar, .tar.gz, .tar.xz, .tar.bz2 or .tar.zst)`, {
      hint: 'Pass a Linux release tarball or an unpacked source tree.',
    });
  }
  return { kind: 'tarball', path: path.resolve(spec) };
}

export function describeSource(source: KernelSource): string {
  switch (source.kind) {
    case 'debian':
      return `debian:${source.series}`;
    case 'kernel.org':
      return `kernel.org:${source.version}`;
    case 'tarball':
      return `tarball:${path.basename(source.path)}`;
    case 'tree':
      return `tree:${path.basename(source.path)}`;
  }
}

/** Where kernel.org releases are fetched from; $GOPID1_KERNEL_ORG_MIRROR points at a mirror with the same layout. */
export const KERNEL_ORG = 'https://cdn.kernel.org/pub/linux/kernel';

export function kernelOrgUrls(version: string): { tarball: string; sums: string } {
  const major = version.split('.')[0];
  const base = `${(process.env.GOPID1_KERNEL_ORG_MIRROR ?? KERNEL_ORG).replace(/\/+$/, '')}/v${major}.x`;
  return { tarball: `${base}/linux-${version}.tar.xz`, sums: `${base}/sha256sums.asc` };
}

/** Finds the sha256 of `file` in the (verified) text of kernel.org's sha256sums.asc. */
export function sha256FromSums(sums: string, file: string): string | undefined {
  for (const line of sums.split('\n')) {
    const match = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim());
    if (match && match[2] === file) return match[1];
  }
  return undefined;
}

async function fetchOrFail(url: string, what: string, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, signal ? { signal } : {});
  } catch (error) {
    if (signal?.aborted) throw interrupted('kernel: download');
    throw new Gopid1Error('KERNEL_SOURCE', `cannot download ${what} from ${url}: ${describeError(error)}`, {
      hint: 'kernel.org is not reachable from here. Use --kernel-source debian:trixie (built from Debian\'s archive), or download the tarball elsewhere and pass its path.',
      cause: error,
    });
  }
  if (!response.ok || !response.body) {
    throw new Gopid1Error('KERNEL_SOURCE', `cannot download ${what}: ${url} answered ${response.status}`, {
      hint: response.status === 404 ? 'Check the version exists on kernel.org.' : 'Try again later, or pass a local tarball.',
    });
  }
  return response;
}

/**
 * Downloads linux-<version>.tar.xz into `cacheDir` (once) and checks its sha256: against `expected` when
 * given, else against kernel.org's sha256sums.asc, whose signature by the Kernel.org checksum autosigner must
 * verify first (signature.ts). A mismatch deletes the file and fails.
 */
export async function downloadKernelOrg(version: string, cacheDir: string, expected: string | undefined, signal?: AbortSignal): Promise<{ path: string; sha256: string }> {
  try {
    return await download(version, cacheDir, expected, signal);
  } catch (error) {
    if (signal?.aborted) throw interrupted('kernel: download');
    if (error instanceof Gopid1Error) throw error;
    throw new Gopid1Error('KERNEL_SOURCE', `downloading linux-${version}.tar.xz failed: ${describeError(error)}`, {
      hint: 'Run again to retry (a partial download is never kept), or pass a local tarball with --kernel-source.',
      cause: error,
    });
  }
}

async function download(version: string, cacheDir: string, expected: string | undefined, signal?: AbortSignal): Promise<{ path: string; sha256: string }> {
  const urls = kernelOrgUrls(version);
  const name = `linux-${version}.tar.xz`;
  let want = expected?.toLowerCase();
  if (want === undefined) {
    const signed = await (await fetchOrFail(urls.sums, 'the kernel.org checksum list', signal)).text();
    const sums = await verifiedSums(signed, await trustedKeys(), urls.sums);
    want = sha256FromSums(sums, name);
    if (!want) {
      throw new Gopid1Error('KERNEL_SOURCE', `kernel.org's sha256sums.asc does not list ${name}`, {
        hint: 'Check the version, or pass the checksum yourself with --kernel-sha256.',
      });
    }
  }
  await mkdir(cacheDir, { recursive: true });
  const final = path.join(cacheDir, name);
  try {
    await stat(final);
  } catch {
    const partial = `${final}.partial-${process.pid}`;
    try {
      const response = await fetchOrFail(urls.tarball, name, signal);
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(partial));
      await rename(partial, final);
    } finally {
      await rm(partial, { force: true });
    }
  }
  const actual = await sha256File(final);
  if (actual !== want) {
    await rm(final, { force: true });
    throw new Gopid1Error('KERNEL_SOURCE', `sha256 mismatch for ${name}: expected ${want}, got ${actual}`, {
      hint: 'The download was corrupted or tampered with and has been deleted. Run again; if it persists, check --kernel-sha256 and your network.',
    });
  }
  return { path: final, sha256: actual };
}
