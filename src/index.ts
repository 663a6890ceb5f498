/** The gopid1 Node API. The CLI is a thin layer over these functions and imports nothing else of src/. */

// The flows.
export { build, executePlan, type BuildOptions, type BuildResult, type RunOptions } from './api/build.js';
export { boot, type BootOptions, type BootResult } from './api/boot.js';
export { verify, type VerifyOptions, type VerifyResult, type ArtifactComparison } from './api/verify.js';
export { test, testBinaryArgs, type TestOptions, type TestResult, type PackageTestResult } from './api/test.js';
export { compare, type CompareOptions, type CompareResult } from './api/compare.js';
export { clean, type CleanOptions, type CleanResult } from './api/clean.js';
export { pushAws, type PushAwsOptions, type PushAwsResult, type PushedImage } from './aws/push-ami.js';
export { runAws, DEFAULT_INSTANCE_TYPES, instanceTypeFor, type RunAwsOptions, type RunAwsResult } from './aws/run-instance.js';

// The plan, the spec file, and the vocabulary the options use.
export { planBuild, type BuildPlan, type HostFacts, type PlannedFragment } from './plan/plan.js';
export { gatherHostFacts } from './plan/host.js';
export { readSpec, findSpec, specRecord, SPEC_FILES, type BuildSpec } from './plan/spec-file.js';
export { SPEC_SCHEMA } from './plan/spec-schema.js';
export {
  ARCHES,
  CLOUDS,
  DEFAULT_INITRAMFS_COMPRESSION,
  DEFAULT_KERNEL_SOURCE,
  DEFAULT_OUT_DIR,
  DEFAULT_SOURCE_DATE_EPOCH,
  DISK_BOOTS,
  INIT_MODES,
  INITRAMFS_COMPRESSIONS,
  KERNEL_COMPRESSIONS,
  KERNEL_CONFIG_BASES,
  PROFILES,
  RESTART_POLICIES,
  type Arch,
  type Cloud,
  type DiskBoot,
  type InitMode,
  type InitramfsCompression,
  type KernelCompression,
  type KernelConfigBase,
  type Profile,
  type RestartPolicy,
} from './plan/vocabulary.js';
export { DEFAULT_WATCHDOG_SECONDS } from './plan/runtime.js';
export { OUTPUT_FORMATS, formatNames, type OutputFormat, type OutputName } from './outputs/table.js';
export { DISK_BUSES, type AccelChoice, type DiskBus, type MachineChoice } from './qemu/command.js';
export { VARIANT_NAMES, type VariantName } from './compare/variants.js';

// Results, errors, progress.
export type { CompareReport, ContainerFigures, VmFigures, Stats } from './compare/report.js';
export type { Manifest, ArtifactRecord } from './artifacts/manifest.js';
export { noSpaceError } from './artifacts/out.js';
export { Gopid1Error, isGopid1Error, type ErrorCode } from './errors.js';
export type { ProgressEvent, Reporter, Stage } from './progress.js';
export { packageRoot, toolVersion } from './paths.js';
