/** The gopid1 Node API. The CLI is a thin layer over these functions. */
export { build, executePlan, type BuildOptions, type BuildResult, type RunOptions } from './build.js';
export { planBuild, type BuildPlan, type HostFacts, type PlannedFragment } from './plan/plan.js';
export { gatherHostFacts } from './plan/host.js';
export { OUTPUT_FORMATS, formatNames, type OutputFormat, type OutputName } from './outputs/table.js';
export { DEFAULT_OUT_DIR, DEFAULT_SOURCE_DATE_EPOCH, type Arch, type Cloud, type DiskBoot, type InitMode, type InitramfsCompression, type KernelCompression, type KernelConfigBase } from './plan/vocabulary.js';
export { boot, type BootOptions, type BootResult } from './boot.js';
export { compare, type CompareOptions, type CompareResult } from './compare/compare.js';
export type { CompareReport, ContainerFigures, VmFigures, Stats } from './compare/report.js';
export type { VariantName } from './compare/variants.js';
export { clean, type CleanOptions, type CleanResult } from './clean.js';
export { pushAws, type PushAwsOptions, type PushAwsResult, type PushedImage } from './aws/push.js';
export { runAws, type RunAwsOptions, type RunAwsResult } from './aws/run.js';
export { verify, type VerifyOptions, type VerifyResult, type ArtifactComparison } from './verify.js';
export { Gopid1Error, isGopid1Error, type ErrorCode } from './errors.js';
export type { Manifest, ArtifactRecord } from './artifacts/manifest.js';
export type { ProgressEvent, Reporter, Stage } from './progress.js';
export type { AccelChoice } from './qemu/command.js';
