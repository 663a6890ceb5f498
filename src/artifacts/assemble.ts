import path from 'node:path';
import type { DataDiskBuildResult } from '../data/data-build.js';
import type { AppFacts } from '../go/app.js';
import type { GoBuildResult } from '../go/go-build.js';
import { compressorDescription } from '../initramfs/compress.js';
import type { InitramfsResult } from '../initramfs/layout.js';
import type { KernelBuildResult } from '../kernel/kernel-build.js';
import type { OutputProduct } from '../outputs/product.js';
import { planRecord, type BuildPlan } from '../plan/plan.js';
import type { BuildSpec } from '../plan/options.js';
import { toolVersion } from '../paths.js';
import { artifactRecord, builderRecord, type Manifest } from './manifest.js';

/** What the stages of a build made, for its manifest. */
export interface BuildParts {
  /** The staging directory the artifacts are in. */
  staging: string;
  app: AppFacts;
  supervisor: AppFacts | undefined;
  kernel: KernelBuildResult;
  go: GoBuildResult;
  supervised?: GoBuildResult | undefined;
  initramfs: InitramfsResult;
  data?: DataDiskBuildResult | undefined;
  products: OutputProduct[];
  spec?: BuildSpec;
}

/** manifest.json of a build: the artifacts with their hashes, how each was made, and the plan. */
export async function assembleManifest(plan: BuildPlan, parts: BuildParts): Promise<Manifest> {
  const { kernel, go, supervised, initramfs, staging } = parts;
  const compression = plan.initramfs.compression;
  const initramfsFile = path.basename(initramfs.path);
  return {
    schema: 1,
    tool: { name: 'gopid1', version: toolVersion },
    name: plan.name,
    sourceDateEpoch: plan.sourceDateEpoch,
    artifacts: {
      bzImage: await artifactRecord(staging, path.basename(kernel.bzImage)),
      init: await artifactRecord(staging, 'init'),
      ...(supervised ? { app: await artifactRecord(staging, 'app') } : {}),
      initramfs: { ...(await artifactRecord(staging, initramfsFile)), unpackedBytes: initramfs.unpackedBytes, format: `newc+${compression}`, compressor: compressorDescription(compression) },
      kernelConfig: await artifactRecord(staging, 'kernel.config'),
      ...(parts.data ? { dataDisk: { file: parts.data.file, bytes: parts.data.bytes, sha256: parts.data.sparseSha256, hashed: 'sparse' as const } } : {}),
      ...Object.assign({}, ...parts.products.map((product) => product.artifacts)),
    },
    kernel: {
      source: kernel.source,
      ...(kernel.sourceSha256 ? { sourceSha256: kernel.sourceSha256 } : {}),
      release: kernel.release,
      config: kernel.base,
      fragments: kernel.fragments.map((f) => ({ name: path.basename(f.name), sha256: f.sha256 })),
      configSha256: kernel.configSha256,
      compression: kernel.compression,
      sourceDateEpoch: plan.kernel.sourceDateEpoch,
      builder: builderRecord(kernel.builder),
      fromCache: kernel.cached,
    },
    go: {
      module: parts.app.module,
      package: plan.program.package,
      version: go.goVersion,
      cgo: plan.program.cgo,
      ...(plan.program.tags ? { tags: [...plan.program.tags] } : {}),
      ldflags: go.ldflags,
      flags: ['-trimpath', '-buildvcs=false'],
      env: { GOOS: 'linux', GOARCH: plan.arch, ...(plan.arch === 'amd64' ? { GOAMD64: 'v1' } : {}), CGO_ENABLED: plan.program.cgo ? '1' : '0' },
      network: go.network,
      ...(go.downloadNetwork ? { downloadNetwork: go.downloadNetwork } : {}),
      builder: builderRecord(go.builder),
      fromCache: go.cached,
    },
    init: supervised
      ? { mode: 'supervise', module: parts.supervisor?.module ?? '', version: toolVersion, ...(plan.runtime.restart.policy !== 'no' ? { restart: plan.runtime.restart } : {}), ...(plan.runtime.health ? { health: { ...plan.runtime.health } } : {}), ...(plan.runtime.watchdog ? { watchdog: { ...plan.runtime.watchdog } } : {}), ...(plan.runtime.env ? { env: plan.runtime.env.map(([key]) => key) } : {}), ...(plan.runtime.user ? { user: { ...plan.runtime.user } } : {}), ...(plan.runtime.metadata ? { metadata: plan.runtime.metadata } : {}) }
      : { mode: 'direct' },
    boot: { cmdline: plan.runtime.cmdline, net: plan.runtime.net, ...(plan.runtime.watchdog ? { watchdog: true } : {}), ...(parts.data ? { dataDisk: { bytes: parts.data.bytes } } : {}) },
    ...(parts.data ? { dataDisk: { builder: builderRecord(parts.data.builder), uuid: parts.data.uuid, mountpoint: '/data' as const } } : {}),
    ...Object.assign({}, ...parts.products.map((product) => product.sections)),
    plan: planRecord(plan),
    ...(parts.spec ? { spec: parts.spec } : {}),
  };
}

