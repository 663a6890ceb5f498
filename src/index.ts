/** The gopid1 Node API. The CLI is a thin layer over these functions. */
export { build, DEFAULT_SOURCE_DATE_EPOCH, type BuildOptions, type BuildResult, type InitMode } from './build.js';
export { boot, type BootOptions, type BootResult } from './boot.js';
export { compare, type CompareOptions, type CompareResult } from './compare/compare.js';
export type { CompareReport, ContainerFigures, VmFigures, Stats } from './compare/report.js';
export type { VariantName } from './compare/variants.js';
export { clean, type CleanOptions, type CleanResult } from './clean.js';
export { verify, type VerifyOptions, type VerifyResult, type ArtifactComparison } from './verify.js';
export { Gopid1Error, isGopid1Error, type ErrorCode } from './errors.js';
export type { Manifest, ArtifactRecord } from './artifacts/manifest.js';
export type { ProgressEvent, Reporter, Stage } from './progress.js';
export type { KernelConfigBase } from './kernel/build.js';
export type { AccelChoice } from './qemu/command.js';
