import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ContentCache, hashKey } from '../artifacts/cache.js';
import { sha256, sha256File } from '../artifacts/files.js';
import { packDirectory, packFiles, packLocalFile } from '../engine/archive.js';
import type { Engine } from '../engine/connect.js';
import type { BuilderImage } from '../engine/images.js';
import { stageBuilder } from '../builders.js';
import { createVolume, runStep, type StepLimits } from '../engine/run.js';
import { Gopid1Error, describeError } from '../errors.js';
import { INITRAMFS_COMPRESSIONS, rdOption, type InitramfsCompression } from '../initramfs/compress.js';
import type { Reporter } from '../progress.js';
import { configProblemsError, parseConfig, parseFragment, parseKconfigFacts, verifyConfig, type RequestedOption } from './config.js';
import { DEFAULT_SERIES, describeSource, downloadKernelOrg, type KernelSource } from './source.js';

export type KernelConfigBase = 'minimal' | 'defconfig';

/** How bzImage is compressed: the kernel's size against the time to unpack it at every boot. */
export type KernelCompression = 'zstd' | 'xz' | 'gzip';
export const KERNEL_COMPRESSIONS: readonly KernelCompression[] = ['zstd', 'xz', 'gzip'];

export interface KernelBuildOptions {
  source: KernelSource;
  config: KernelConfigBase;
  /** User fragment files, applied after the base (and after minimal.config), in order. */
  fragments: string[];
  /** Add efi.config: EFI and the EFI stub, for ISOs that boot under UEFI. */
  uefi: boolean;
  /** Add net.config: IPv4, virtio-net over PCI, kernel-level IP configuration (ip=). */
  net: boolean;
  /** Compress bzImage this way (a generated fragment after the base); default: the base's (minimal: zstd). */
  compression?: KernelCompression;
  /**
   * The initramfs's compression: its decompressor is turned on (a generated fragment); the minimal base gets
   * that one only, so no unused decompressor is in the kernel.
   */
  initramfsCompression: InitramfsCompression;
  /** Expected sha256 of a kernel.org tarball; default: kernel.org's sha256sums.asc. */
  kernelSha256?: string;
  jobs: number;
  limits?: StepLimits;
  useCache: boolean;
  /** KBUILD_BUILD_TIMESTAMP comes from this. */
  sourceDateEpoch: number;
  /** Where bzImage and kernel.config are written. */
  outDir: string;
  logDir: string;
  dockerfilesDir: string;
  cache: ContentCache;
  report: Reporter;
  signal?: AbortSignal;
}

export interface KernelBuildResult {
  bzImage: string;
  config: string;
  /** `make kernelrelease`, e.g. 6.12.117 */
  release: string;
  source: string;
  /** sha256 of the source tarball, when the source is a file. */
  sourceSha256?: string;
  base: KernelConfigBase;
  fragments: { name: string; sha256: string }[];
  configSha256: string;
  builder: BuilderImage;
  cached: boolean;
  durationMs: number;
}

interface Fragment {
  /** Name inside the builder: NN-<basename>.config, applied in name order. */
  name: string;
  label: string;
  text: string;
  options: RequestedOption[];
}

interface CachedKernelMeta {
  release: string;
  configSha256: string;
}

/** The initramfs decompressor a kernel needs: the chosen one, and for the minimal base none of the others. */
export function decompressorFragment(compression: InitramfsCompression, base: KernelConfigBase): string {
  const lines = INITRAMFS_COMPRESSIONS.flatMap((method) => {
    if (method === compression) return [`CONFIG_${rdOption(method)}=y`];
    return base === 'minimal' ? [`# CONFIG_${rdOption(method)} is not set`] : [];
  });
  return `${lines.join('\n')}\n`;
}

async function loadFragments(options: KernelBuildOptions): Promise<Fragment[]> {
  const files: { label: string; file: string; text?: string }[] = [];
  const shipped = (name: string): { label: string; file: string } => ({ label: name, file: path.join(options.dockerfilesDir, 'kernel', 'fragments', name) });
  if (options.config === 'minimal') files.push(shipped('minimal.config'));
  if (options.compression) {
    // A Kconfig choice: the chosen one on, the others (which the base may have asked for) explicitly off.
    const text = KERNEL_COMPRESSIONS.map((method) => (method === options.compression ? `CONFIG_KERNEL_${method.toUpperCase()}=y` : `# CONFIG_KERNEL_${method.toUpperCase()} is not set`)).join('\n');
    files.push({ label: `--kernel-compression ${options.compression}`, file: 'compression.config', text: `${text}\n` });
  }
  files.push({ label: `--compress ${options.initramfsCompression}`, file: 'initramfs-compression.config', text: decompressorFragment(options.initramfsCompression, options.config) });
  if (options.uefi) files.push(shipped('efi.config'));
  if (options.net) files.push(shipped('net.config'));
  for (const file of options.fragments) files.push({ label: file, file });
  const fragments: Fragment[] = [];
  for (const [index, { label, file, text: inline }] of files.entries()) {
    let text: string;
    try {
      text = inline ?? (await readFile(file, 'utf8'));
    } catch (error) {
      throw new Gopid1Error('BAD_INPUT', `cannot read kernel config fragment ${file}`, { hint: 'Check the path given to --kernel-fragment.', cause: error });
    }
    const base = path.basename(file).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/\.config$/, '');
    fragments.push({ name: `${String(index).padStart(2, '0')}-${base}.config`, label, text, options: parseFragment(text, label) });
  }
  return fragments;
}

const COMPILED = /^\s+(CC|AS|LD|AR|HOSTCC|HOSTLD|OBJCOPY|LDS)\s/;

/**
 * Builds bzImage in the kernel builder: configure (base + fragments, olddefconfig), verify that every option
 * the fragments ask for survived, compile. Unchanged inputs are served from the cache.
 */
export async function buildKernel(engine: Engine, options: KernelBuildOptions): Promise<KernelBuildResult> {
  const started = Date.now();
  const { report, signal } = options;
  const fragments = await loadFragments(options);
  const series = options.source.kind === 'debian' ? options.source.series : DEFAULT_SERIES;
  const logFile = path.join(options.logDir, 'kernel.log');

  const builder = await stageBuilder(engine, { stage: 'kernel', series, dockerfilesDir: options.dockerfilesDir, logDir: options.logDir, report, signal });

  // The source: the builder's own linux-source, a kernel.org download, or a local tarball or tree.
  let tarball: string | undefined;
  let sourceSha256: string | undefined;
  if (options.source.kind === 'kernel.org') {
    report({ kind: 'step', stage: 'kernel', text: `downloading linux-${options.source.version}.tar.xz` });
    const download = await downloadKernelOrg(options.source.version, path.join(options.cache.root, 'downloads'), options.kernelSha256, signal);
    tarball = download.path;
    sourceSha256 = download.sha256;
  } else if (options.source.kind === 'tarball') {
    tarball = options.source.path;
    sourceSha256 = await sha256File(tarball);
  }

  const fragmentIds = fragments.map((f) => ({ name: f.label, sha256: sha256(f.text) }));
  const key =
    options.source.kind === 'tree'
      ? undefined
      : hashKey({
          v: 1,
          source: options.source.kind === 'debian' ? describeSource(options.source) : sourceSha256,
          base: options.config,
          fragments: fragmentIds.map((f) => f.sha256),
          builder: builder.tag,
          packages: sha256(builder.packages.join('\n')),
          epoch: options.sourceDateEpoch,
        });
  const bzImage = path.join(options.outDir, 'bzImage');
  const config = path.join(options.outDir, 'kernel.config');
  const result = (meta: CachedKernelMeta, cached: boolean): KernelBuildResult => ({
    bzImage,
    config,
    ...meta,
    source: describeSource(options.source),
    ...(sourceSha256 ? { sourceSha256 } : {}),
    base: options.config,
    fragments: fragmentIds,
    builder,
    cached,
    durationMs: Date.now() - started,
  });

  if (key && options.useCache) {
    const hit = await options.cache.get<CachedKernelMeta>('kernel', key);
    if (hit?.files.bzImage && hit.files['kernel.config']) {
      await copyFile(hit.files.bzImage, bzImage);
      await copyFile(hit.files['kernel.config'], config);
      report({ kind: 'done', stage: 'kernel', text: `kernel ${hit.meta.release} from the cache` });
      return result(hit.meta, true);
    }
  }

  const volume = await createVolume(engine, 'kernel');
  const scratch = await mkdtemp(path.join(options.outDir, 'kernel-'));
  try {
    const inputs: { path: string; archive: () => Readable }[] = [
      { path: '/work', archive: () => packFiles(fragments.map((f) => ({ name: `in/${f.name}`, data: f.text }))) },
    ];
    if (tarball) {
      const ext = tarball.endsWith('.tgz') ? 'tar.gz' : (/\.(tar(?:\.\w+)?)$/.exec(tarball)?.[1] ?? 'tar');
      const file = tarball;
      inputs.push({ path: '/work', archive: () => packLocalFile(file, `in/source.${ext}`) });
    } else if (options.source.kind === 'tree') {
      const tree = options.source.path;
      report({ kind: 'step', stage: 'kernel', text: `copying the source tree ${tree}` });
      inputs.push({ path: '/work', archive: () => packDirectory(tree, { prefix: 'src', skip: (p) => p === '.git' }) });
    }

    report({ kind: 'step', stage: 'kernel', text: `configuring (${options.config}${options.fragments.length ? ` + ${options.fragments.length} fragment(s)` : ''})` });
    await runStep(engine, {
      role: 'kernel-configure',
      title: 'kernel: configure',
      image: builder.id,
      cmd: ['kernel-step', 'configure', options.config === 'minimal' ? 'tinyconfig' : 'defconfig'],
      env: { SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
      volumes: { [volume.name]: '/work' },
      ...(options.limits ? { limits: options.limits } : {}),
      inputs,
      outputs: ['.config', 'gopid1-kconfig-deps', 'gopid1-kernelrelease'].map((name) => ({ path: `/work/build/${name}`, dest: scratch })),
      logFile,
      onLine: (line) => report({ kind: 'line', stage: 'kernel', line }),
      ...(signal ? { signal } : {}),
    });
    const finalConfig = await readFile(path.join(scratch, '.config'), 'utf8');
    const facts = parseKconfigFacts(await readFile(path.join(scratch, 'gopid1-kconfig-deps'), 'utf8'));
    const problems = verifyConfig(
      fragments.flatMap((f) => f.options),
      parseConfig(finalConfig),
      facts,
    );
    if (problems.length > 0) throw configProblemsError(problems, logFile);
    const release = (await readFile(path.join(scratch, 'gopid1-kernelrelease'), 'utf8')).trim();

    report({ kind: 'step', stage: 'kernel', text: `compiling Linux ${release} with ${options.jobs} job(s)` });
    let compiled = 0;
    let lastReport = 0;
    await runStep(engine, {
      role: 'kernel-compile',
      title: 'kernel: compile',
      image: builder.id,
      cmd: ['kernel-step', 'compile', String(options.jobs)],
      env: { SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
      volumes: { [volume.name]: '/work' },
      ...(options.limits ? { limits: options.limits } : {}),
      outputs: [{ path: '/work/build/arch/x86/boot/bzImage', dest: scratch }],
      logFile,
      onLine: (line) => {
        report({ kind: 'line', stage: 'kernel', line });
        if (COMPILED.test(line)) {
          compiled += 1;
          const now = Date.now();
          if (now - lastReport > 250) {
            lastReport = now;
            report({ kind: 'count', stage: 'kernel', text: `${compiled} objects compiled` });
          }
        }
      },
      ...(signal ? { signal } : {}),
    });
    await copyFile(path.join(scratch, 'bzImage'), bzImage);
    await copyFile(path.join(scratch, '.config'), config);
    const configSha256 = sha256(finalConfig);
    if (key) {
      // The kernel is built; a cache that cannot take it (read-only home, full disk) only costs the next build.
      await options.cache.put<CachedKernelMeta>('kernel', key, { bzImage, 'kernel.config': config }, { release, configSha256 }).catch((error: unknown) => {
        report({ kind: 'warning', stage: 'kernel', text: `could not store the kernel in the cache ${options.cache.root}: ${describeError(error)}` });
      });
    }
    report({ kind: 'done', stage: 'kernel', text: `kernel ${release} compiled (${compiled} objects)` });
    return result({ release, configSha256 }, false);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await volume.dispose();
  }
}
