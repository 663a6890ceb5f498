import { chmod, copyFile, cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashKey, type ContentCache } from '../artifacts/cache.js';
import type { Manifest } from '../artifacts/manifest.js';
import { stageBuilder } from '../builders.js';
import { COMPARE_LABEL, packDirectory, type Engine } from '../engine/engine.js';
import { dockerfilesDir } from '../paths.js';
import { DEFAULT_SERIES } from '../plan/vocabulary.js';
import type { Reporter } from '../progress.js';
import { DISTROLESS_ROOTFS_SCRIPT, VARIANT_DESCRIPTIONS, binaryDockerfile, golangDockerfile, type VariantName } from './variants.js';

/** The container images `gopid1 compare` measures the machine against: one per variant, built from the same program. */

/** gopid1-compare-<machine name>:<variant>: what the variant's image is tagged, and later removed, by. */
export function imageTag(name: string, variant: VariantName): string {
  return `gopid1-compare-${name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '') || 'app'}:${variant}`;
}

/** What apt and dpkg need as root in a stock image (apt drops to its _apt user; dpkg and the script chown). */
const PACKAGE_INSTALL_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETUID', 'SETGID', 'KILL'];

/** The distroless-like root filesystem as a tar, made once per Debian base and kept in the cache. */
async function distrolessRootfs(engine: Engine, options: { work: string; logFile: string; cache: ContentCache; sourceDateEpoch: number; report: Reporter; signal?: AbortSignal }): Promise<string> {
  const base = `debian:${DEFAULT_SERIES}`;
  const baseId = await engine.ensureBaseImage(base, { logFile: options.logFile, ...(options.signal ? { signal: options.signal } : {}) });
  const key = hashKey({ v: 1, baseId, script: DISTROLESS_ROOTFS_SCRIPT, epoch: options.sourceDateEpoch });
  const hit = await options.cache.get('compare-distroless', key);
  if (hit?.files['rootfs.tar']) return hit.files['rootfs.tar'];
  options.report({ kind: 'step', stage: 'compare', text: 'assembling the distroless-like root filesystem (apt-get in a container)' });
  const dest = path.join(options.work, 'distroless-rootfs');
  await mkdir(dest, { recursive: true });
  await engine.runStep({
    role: 'compare-distroless-rootfs',
    title: 'compare: distroless rootfs',
    image: baseId,
    cmd: ['sh', '-c', DISTROLESS_ROOTFS_SCRIPT],
    env: { SOURCE_DATE_EPOCH: String(options.sourceDateEpoch) },
    network: 'bridge',
    capabilities: PACKAGE_INSTALL_CAPABILITIES,
    outputs: [{ path: '/out/rootfs.tar', dest }],
    logFile: options.logFile,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const tar = path.join(dest, 'rootfs.tar');
  const stored = await options.cache.put('compare-distroless', key, { 'rootfs.tar': tar }, {}).catch(() => undefined);
  return stored?.files['rootfs.tar'] ?? tar;
}

/** Builds one variant's image from a context directory made for it. */
export async function buildVariant(
  engine: Engine,
  variant: VariantName,
  context: { work: string; tag: string; program: string; appDir: string; outDir: string; manifest: Manifest; platform: string; logFile: string; cache: ContentCache; report: Reporter; signal?: AbortSignal },
): Promise<void> {
  const dir = path.join(context.work, `context-${variant}`);
  await mkdir(dir, { recursive: true });
  const progress = { logFile: context.logFile, onLine: (line: string) => context.report({ kind: 'line', stage: 'compare', line }), ...(context.signal ? { signal: context.signal } : {}) };
  let dockerfile: string;
  if (variant === 'golang') {
    const toolchain = await stageBuilder(engine, { stage: 'go', series: DEFAULT_SERIES, dockerfilesDir, logDir: path.dirname(context.logFile), report: context.report, signal: context.signal });
    const appDir = path.resolve(context.appDir);
    const out = path.resolve(context.outDir);
    await cp(appDir, path.join(dir, 'src'), {
      recursive: true,
      filter: (source) => {
        const resolved = path.resolve(source);
        return path.basename(resolved) !== '.git' && resolved !== out && !resolved.startsWith(`${out}${path.sep}`);
      },
    });
    dockerfile = golangDockerfile({ toolchainImage: toolchain.tag, package: context.manifest.go.package, cgo: context.manifest.go.cgo, ...(context.manifest.go.tags ? { tags: context.manifest.go.tags } : {}), ldflags: context.manifest.go.ldflags });
  } else {
    await copyFile(context.program, path.join(dir, 'app'));
    await chmod(path.join(dir, 'app'), 0o755);
    let base = 'scratch';
    if (variant === 'distroless') {
      await copyFile(await distrolessRootfs(engine, { work: context.work, logFile: context.logFile, cache: context.cache, sourceDateEpoch: context.manifest.sourceDateEpoch, report: context.report, ...(context.signal ? { signal: context.signal } : {}) }), path.join(dir, 'rootfs.tar'));
    } else if (variant === 'debian-slim') {
      base = `debian:${DEFAULT_SERIES}-slim`;
      await engine.ensureBaseImage(base, progress);
    }
    dockerfile = binaryDockerfile(variant, base);
  }
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  context.report({ kind: 'step', stage: 'compare', text: `building the ${variant} image` });
  await engine.buildImage({
    context: () => packDirectory(dir),
    tag: context.tag,
    what: `the ${variant} comparison image`,
    from: `${variant} (${VARIANT_DESCRIPTIONS[variant]})`,
    buildArgs: process.env.GOPROXY ? { GOPROXY: process.env.GOPROXY } : {},
    platform: context.platform,
    labels: { ...engine.labels(`compare-${variant}`), [COMPARE_LABEL]: variant },
    hint: variant === 'golang' ? 'The golang variant compiles the app inside the image: modules that are not vendored need a reachable module proxy.' : 'Check the engine with `docker info`.',
    progress,
  });
}
