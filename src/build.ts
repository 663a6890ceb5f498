import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ContentCache } from './artifacts/cache.js';
import { artifactRecord, type BuilderRecord, type Manifest } from './artifacts/manifest.js';
import { noSpaceError, OutputDir } from './artifacts/out.js';
import { connectEngine } from './engine/connect.js';
import type { BuilderImage } from './engine/images.js';
import type { StepLimits } from './engine/run.js';
import { Gopid1Error, throwIfAborted } from './errors.js';
import { buildGo, inspectApp, type GoBuildResult } from './go/build.js';
import { compressInitramfs, compressorDescription, DEFAULT_INITRAMFS_COMPRESSION, INITRAMFS_COMPRESSIONS, initramfsFileName, type InitramfsCompression } from './initramfs/compress.js';
import { writeInitramfs } from './initramfs/layout.js';
import { buildIso } from './iso/build.js';
import { buildKernel, KERNEL_COMPRESSIONS, type KernelCompression, type KernelConfigBase } from './kernel/build.js';
import { DEFAULT_KERNEL_SOURCE, parseKernelSource } from './kernel/source.js';
import { dockerfilesDir, supervisorDir, toolVersion } from './paths.js';
import { silent, type Reporter } from './progress.js';
import { kernelCmdline } from './qemu/command.js';

/** Used when neither --source-date-epoch, SOURCE_DATE_EPOCH nor a git commit of the app gives a time: 2024-01-01T00:00:00Z. */
export const DEFAULT_SOURCE_DATE_EPOCH = 1704067200;

export interface BuildOptions {
  /** Directory of the Go module to boot. */
  app: string;
  /** Out dir (default "dist"). */
  out?: string;
  /** Name of the machine (default: the app directory's name). */
  name?: string;
  /** Main package inside the module (default "."). */
  package?: string;
  /** debian:<series> (default debian:trixie), kernel.org:<version>, or a path to a tarball or tree. */
  kernelSource?: string;
  kernelConfig?: KernelConfigBase;
  kernelFragments?: string[];
  kernelSha256?: string;
  /** bzImage compression: zstd (the minimal default: unpacks fast), xz (smallest, slowest to unpack), gzip. */
  kernelCompression?: KernelCompression;
  /** initramfs compression: zstd (default), xz (smallest, slowest to unpack), gzip. The kernel gets that decompressor. */
  compress?: InitramfsCompression;
  /** Extra kernel command line, recorded in the manifest and used by `boot` and the ISO's GRUB entry. */
  cmdline?: string;
  /**
   * Who is PID 1: `direct` (default) makes the program /init; `supervise` puts gopid1's supervising init there
   * (mounts, reaping, signal forwarding, clean power-off) and the program at /app.
   */
  init?: InitMode;
  /** Networking: IPv4 and a virtio NIC in the kernel, configured by the kernel from `ip=` (default ip=dhcp). */
  net?: boolean;
  /** Also master <name>.iso: GRUB, BIOS El Torito, USB-hybrid. */
  iso?: boolean;
  /** The ISO also boots under UEFI (adds EFI to the kernel); implies `iso`. */
  uefi?: boolean;
  /** Seconds GRUB shows its menu (default 0). */
  menuTimeoutSeconds?: number;
  cgo?: boolean;
  /** Strip symbol tables from the program (-s -w); default true. */
  strip?: boolean;
  /** Parallel kernel compile jobs (default: CPU count, or --cpus rounded up). */
  jobs?: number;
  /** CPUs each builder container may use (docker --cpus); default: no limit. */
  cpus?: number;
  /** Memory each builder container may use, in bytes (docker --memory, no swap beyond); default: no limit. */
  memoryLimitBytes?: number;
  /** Reuse the kernel cache and Go's build cache (default true); false builds everything from nothing. */
  cache?: boolean;
  sourceDateEpoch?: number;
  onProgress?: Reporter;
  signal?: AbortSignal;
}

export type InitMode = 'direct' | 'supervise';

export interface BuildResult {
  outDir: string;
  manifest: Manifest;
  durations: { kernelMs: number; goMs: number; initramfsMs: number; isoMs?: number; totalMs: number };
  /** Bytes of the supervising init (`--init supervise`): what it adds to the machine, before compression. */
  supervisorBytes?: number;
}

const MAX_EPOCH = 0xffffffff; // cpio and ISO 9660 store 32-bit times

function checkEpoch(value: number, from: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_EPOCH) {
    throw new Gopid1Error('BAD_INPUT', `${from} must be a whole number of seconds since 1970 up to ${MAX_EPOCH}, not ${value}`, { hint: 'e.g. --source-date-epoch 1704067200' });
  }
  return value;
}

/** $SOURCE_DATE_EPOCH, checked, when it is set. */
function epochFromEnvironment(): number | undefined {
  const value = process.env.SOURCE_DATE_EPOCH?.trim();
  if (!value) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new Gopid1Error('BAD_INPUT', `SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not "${value}"`, { hint: 'e.g. SOURCE_DATE_EPOCH=1704067200' });
  }
  return checkEpoch(Number(value), 'SOURCE_DATE_EPOCH');
}

/** The app's SOURCE_DATE_EPOCH: the option, else $SOURCE_DATE_EPOCH, else the last git commit of its directory, else a constant. */
export async function resolveSourceDateEpoch(appDir: string, explicit?: number): Promise<number> {
  if (explicit !== undefined) return checkEpoch(explicit, '--source-date-epoch');
  const fromEnvironment = epochFromEnvironment();
  if (fromEnvironment !== undefined) return fromEnvironment;
  // The last commit that touched the app's directory, not the repository's HEAD: unrelated commits change nothing.
  const git = await execa('git', ['-C', appDir, 'log', '-1', '--format=%ct', '--', '.'], { reject: false });
  if (git.exitCode === 0 && /^\d+$/.test(String(git.stdout).trim())) return checkEpoch(Number(String(git.stdout).trim()), 'the app\'s last commit time');
  return DEFAULT_SOURCE_DATE_EPOCH;
}

function builderRecord(image: BuilderImage): BuilderRecord {
  return { tag: image.tag, id: image.id, packages: image.packages };
}

/**
 * Runs two stages side by side. The first to fail stops the other (through the signal both get), and its
 * error is the one reported, not the other's "interrupted" or whatever the abort made of it.
 */
async function inParallel<A, B>(signal: AbortSignal | undefined, a: (signal: AbortSignal) => Promise<A>, b: (signal: AbortSignal) => Promise<B>): Promise<[A, B]> {
  const stages = new AbortController();
  const abort = (): void => stages.abort();
  signal?.addEventListener('abort', abort, { once: true });
  if (signal?.aborted) abort();
  let first: { error: unknown } | undefined;
  const guard = <T>(run: Promise<T>): Promise<T> =>
    run.catch((error: unknown) => {
      first ??= { error };
      abort();
      throw error;
    });
  try {
    const [ra, rb] = await Promise.allSettled([guard(a(stages.signal)), guard(b(stages.signal))]);
    if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
    throw first?.error ?? new Error('a build stage failed');
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/**
 * Builds an app into a bootable machine: the kernel and the program in parallel, each in its builder
 * container, then the initramfs; writes bzImage, init, initramfs.cpio.zst (or .xz, .gz), kernel.config and manifest.json
 * to the out dir only when everything succeeded.
 */
export async function build(options: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const report = options.onProgress ?? silent;
  const pkg = options.package ?? '.';
  const app = await inspectApp(options.app, pkg);
  const source = await parseKernelSource(options.kernelSource ?? DEFAULT_KERNEL_SOURCE);
  const kernelConfig = options.kernelConfig ?? 'minimal';
  if (kernelConfig !== 'minimal' && kernelConfig !== 'defconfig') {
    throw new Gopid1Error('BAD_INPUT', `unknown kernel config "${String(kernelConfig)}"`, { hint: 'Use --kernel-config minimal (default) or defconfig.' });
  }
  if (options.cpus !== undefined && (!Number.isFinite(options.cpus) || options.cpus < 0.1)) {
    throw new Gopid1Error('BAD_INPUT', `--cpus must be a number of CPUs, at least 0.1, not ${options.cpus}`, { hint: 'e.g. --cpus 1.5' });
  }
  if (options.memoryLimitBytes !== undefined && (!Number.isInteger(options.memoryLimitBytes) || options.memoryLimitBytes < 256 * 2 ** 20)) {
    throw new Gopid1Error('BAD_INPUT', `--memory-limit must be at least 256 MiB, not ${options.memoryLimitBytes} bytes`, { hint: 'e.g. --memory-limit 2g (the kernel build needs about 1 GiB)' });
  }
  const limits: StepLimits | undefined =
    options.cpus !== undefined || options.memoryLimitBytes !== undefined
      ? { ...(options.cpus !== undefined ? { cpus: options.cpus } : {}), ...(options.memoryLimitBytes !== undefined ? { memoryBytes: options.memoryLimitBytes } : {}) }
      : undefined;
  if (options.kernelCompression !== undefined && !KERNEL_COMPRESSIONS.includes(options.kernelCompression)) {
    throw new Gopid1Error('BAD_INPUT', `unknown kernel compression "${String(options.kernelCompression)}"`, { hint: `Use --kernel-compression ${KERNEL_COMPRESSIONS.join(', ')}.` });
  }
  const compression = options.compress ?? DEFAULT_INITRAMFS_COMPRESSION;
  if (!INITRAMFS_COMPRESSIONS.includes(compression)) {
    throw new Gopid1Error('BAD_INPUT', `unknown initramfs compression "${String(compression)}"`, { hint: `Use --compress ${INITRAMFS_COMPRESSIONS.join(', ')}.` });
  }
  const jobs = options.jobs ?? (options.cpus !== undefined ? Math.max(1, Math.ceil(options.cpus)) : os.availableParallelism());
  if (!Number.isInteger(jobs) || jobs < 1) throw new Gopid1Error('BAD_INPUT', `--jobs must be a positive whole number, not ${jobs}`, { hint: 'e.g. --jobs 2' });
  const epoch = await resolveSourceDateEpoch(app.dir, options.sourceDateEpoch);
  // The kernel does not depend on the app: its timestamp is fixed unless one is asked for, so one kernel serves every app.
  const kernelEpoch = options.sourceDateEpoch ?? epochFromEnvironment() ?? DEFAULT_SOURCE_DATE_EPOCH;
  const name = options.name ?? path.basename(app.dir);
  const uefi = options.uefi ?? false;
  const iso = (options.iso ?? false) || uefi;
  const menuTimeoutSeconds = options.menuTimeoutSeconds ?? 0;
  if (!Number.isInteger(menuTimeoutSeconds) || menuTimeoutSeconds < 0) {
    throw new Gopid1Error('BAD_INPUT', `--menu-timeout must be a whole number of seconds, not ${menuTimeoutSeconds}`, { hint: 'e.g. --menu-timeout 5' });
  }
  const initMode = options.init ?? 'direct';
  if (initMode !== 'direct' && initMode !== 'supervise') {
    throw new Gopid1Error('BAD_INPUT', `unknown init mode "${String(initMode)}"`, { hint: 'Use --init direct (the program is PID 1) or --init supervise (gopid1\'s init runs it).' });
  }
  const net = options.net ?? false;
  // The kernel configures eth0 itself; DHCP unless the user's command line says how (ip=…).
  const cmdline = kernelCmdline([net && !/(^|\s)ip=/.test(options.cmdline ?? '') ? 'ip=dhcp' : '', options.cmdline ?? ''].filter(Boolean).join(' '));
  if (/[\n\r]/.test(cmdline)) throw new Gopid1Error('BAD_INPUT', '--cmdline must be one line', { hint: 'Separate kernel parameters with spaces.' });
  if (iso && cmdline.includes('"')) {
    throw new Gopid1Error('BAD_INPUT', '--cmdline with double quotes cannot go on an ISO: GRUB re-escapes them before Linux sees them', {
      hint: 'Use parameters without quoted values (no spaces in values), or build without --iso and boot directly.',
    });
  }
  const supervisor = initMode === 'supervise' ? await inspectApp(supervisorDir, '.') : undefined;
  throwIfAborted(options.signal, 'build');

  const engine = await connectEngine();
  const out = await OutputDir.open(options.out ?? 'dist', { appDir: app.dir, runId: engine.runId });
  const relativeOut = path.relative(app.dir, out.dir);
  const exclude = relativeOut !== '' && !relativeOut.startsWith('..') && !path.isAbsolute(relativeOut) ? [relativeOut.split(path.sep).join('/')] : [];

  try {
    const cache = new ContentCache();
    const [kernel, programs] = await inParallel(
      options.signal,
      (signal) =>
        buildKernel(engine, {
          source,
          config: kernelConfig,
          fragments: options.kernelFragments ?? [],
          uefi,
          net,
          ...(options.kernelCompression ? { compression: options.kernelCompression } : {}),
          initramfsCompression: compression,
          ...(options.kernelSha256 ? { kernelSha256: options.kernelSha256 } : {}),
          jobs,
          ...(limits ? { limits } : {}),
          useCache: options.cache ?? true,
          sourceDateEpoch: kernelEpoch,
          outDir: out.staging,
          logDir: out.logs,
          dockerfilesDir,
          cache,
          report,
          signal,
        }),
      (signal): Promise<[GoBuildResult, GoBuildResult | undefined]> => {
        const program = (signal: AbortSignal): Promise<GoBuildResult> =>
          buildGo(engine, {
            app,
            package: pkg,
            cgo: options.cgo ?? false,
            strip: options.strip ?? true,
            ...(limits ? { limits } : {}),
            useCache: options.cache ?? true,
            exclude,
            outDir: out.staging,
            outName: supervisor ? 'app' : 'init',
            logDir: out.logs,
            dockerfilesDir,
            sourceDateEpoch: epoch,
            report,
            signal,
          });
        if (!supervisor) return program(signal).then((go) => [go, undefined]);
        // gopid1's own init: always stripped, never cgo, dated like the kernel (it does not follow the app).
        const init = (signal: AbortSignal): Promise<GoBuildResult> =>
          buildGo(engine, {
            app: supervisor,
            package: '.',
            cgo: false,
            strip: true,
            ...(limits ? { limits } : {}),
            useCache: options.cache ?? true,
            exclude: [],
            outDir: out.staging,
            outName: 'init',
            supervisor: true,
            logDir: out.logs,
            dockerfilesDir,
            sourceDateEpoch: kernelEpoch,
            report,
            signal,
          });
        return inParallel(signal, program, init);
      },
    );
    const [go, supervised] = programs;
    throwIfAborted(options.signal, 'build');

    const initramfsStarted = Date.now();
    const initramfsFile = initramfsFileName(compression);
    report({ kind: 'step', stage: 'initramfs', text: `packing ${initramfsFile}` });
    const initramfs = await writeInitramfs(
      supervised ? { init: supervised.binary, app: go.binary, net } : { init: go.binary, net },
      out.staged(initramfsFile),
      epoch,
      (cpio) =>
        compressInitramfs(engine, cpio, {
          compression,
          builder: go.builder,
          workDir: out.staging,
          logFile: path.join(out.logs, 'initramfs.log'),
          ...(limits ? { limits } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
    );
    const initramfsMs = Date.now() - initramfsStarted;
    report({ kind: 'done', stage: 'initramfs', text: `initramfs packed (${initramfs.bytes} bytes, ${initramfs.unpackedBytes} unpacked)` });

    const isoResult = iso
      ? await buildIso(engine, {
          name,
          bzImage: kernel.bzImage,
          initramfs: initramfs.path,
          cmdline,
          uefi,
          menuTimeoutSeconds,
          ...(limits ? { limits } : {}),
          sourceDateEpoch: epoch,
          outDir: out.staging,
          logDir: out.logs,
          dockerfilesDir,
          report,
          ...(options.signal ? { signal: options.signal } : {}),
        })
      : undefined;

    const manifest: Manifest = {
      schema: 1,
      tool: { name: 'gopid1', version: toolVersion },
      name,
      sourceDateEpoch: epoch,
      artifacts: {
        bzImage: await artifactRecord(out.staging, 'bzImage'),
        init: await artifactRecord(out.staging, 'init'),
        ...(supervised ? { app: await artifactRecord(out.staging, 'app') } : {}),
        initramfs: { ...(await artifactRecord(out.staging, initramfsFile)), unpackedBytes: initramfs.unpackedBytes, format: `newc+${compression}`, compressor: compressorDescription(compression) },
        kernelConfig: await artifactRecord(out.staging, 'kernel.config'),
        ...(isoResult ? { iso: { ...(await artifactRecord(out.staging, isoResult.file)), uefi, hybrid: true as const } } : {}),
      },
      kernel: {
        source: kernel.source,
        ...(kernel.sourceSha256 ? { sourceSha256: kernel.sourceSha256 } : {}),
        release: kernel.release,
        config: kernel.base,
        fragments: kernel.fragments.map((f) => ({ name: path.basename(f.name), sha256: f.sha256 })),
        configSha256: kernel.configSha256,
        compression: /^CONFIG_KERNEL_(GZIP|XZ|ZSTD|LZ4|LZO|LZMA|BZIP2)=y$/m.exec(await readFile(kernel.config, 'utf8'))?.[1]?.toLowerCase() ?? 'unknown',
        sourceDateEpoch: kernelEpoch,
        builder: builderRecord(kernel.builder),
        fromCache: kernel.cached,
      },
      go: {
        module: app.module,
        package: pkg,
        version: go.goVersion,
        cgo: options.cgo ?? false,
        ldflags: go.ldflags,
        flags: ['-trimpath', '-buildvcs=false'],
        env: { GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v1', CGO_ENABLED: options.cgo ? '1' : '0' },
        network: go.network,
        ...(go.downloadNetwork ? { downloadNetwork: go.downloadNetwork } : {}),
        builder: builderRecord(go.builder),
      },
      init: supervised ? { mode: 'supervise', module: supervisor?.module ?? '', version: toolVersion } : { mode: 'direct' },
      boot: { cmdline, net },
      ...(isoResult ? { iso: { builder: builderRecord(isoResult.builder), menuTimeoutSeconds } } : {}),
    };
    throwIfAborted(options.signal, 'build');
    await out.commit(['bzImage', 'init', ...(supervised ? ['app'] : []), initramfsFile, 'kernel.config', ...(isoResult ? [isoResult.file] : [])], manifest);
    return {
      outDir: out.dir,
      manifest,
      durations: {
        kernelMs: kernel.durationMs,
        goMs: go.durationMs,
        initramfsMs,
        ...(isoResult ? { isoMs: isoResult.durationMs } : {}),
        totalMs: Date.now() - started,
      },
      ...(supervised ? { supervisorBytes: supervised.bytes } : {}),
    };
  } catch (error) {
    // A full disk under the out dir, in whatever stage wrote there, is NO_SPACE naming it (API users too, not only the CLI).
    throw (await noSpaceError(error, { outDir: out.dir })) ?? error;
  } finally {
    await out.discard();
  }
}
