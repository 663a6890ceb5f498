import { ensureBaseImage } from './base-image.js';
import { ensureBuilderImage, type BuilderImage, type BuilderSpec } from './builder-images.js';
import { cleanEngine, type CleanReport } from './cleanup.js';
import { labelsFor, openSession, type DockerSession } from './connect.js';
import { buildImage, removeImage, type ImageBuild, type ImageProgress } from './image-build.js';
import { imageSizes, runToFirstOutput, type FirstOutputOptions, type FirstOutputRun, type ImageSizes } from './measure.js';
import { runProgram, type ProgramRun, type ProgramRunOptions } from './run.js';
import { createVolume, ensureVolume, runStep, type RunVolume } from './step.js';
import type { StepOptions, StepResult } from './step-options.js';

// What the rest of gopid1 may use of src/engine/ besides the Engine: the archive helpers that pack a step's inputs,
// the label and uid constants, and the types of the Engine's arguments and results.
export { newRunId } from './connect.js';
export { packDirectory, packFiles, packLocalFile, type ArchiveFile } from './archive.js';
export { BUILDER_UID, COMPARE_LABEL } from './labels.js';
export type { BuilderImage, BuilderSpec } from './builder-images.js';
export type { CleanReport } from './cleanup.js';
export type { ImageBuild, ImageProgress } from './image-build.js';
export type { FirstOutputOptions, FirstOutputRun, ImageSizes } from './measure.js';
export type { ProgramRun, ProgramRunOptions } from './run.js';
export type { RunVolume } from './step.js';
export type { StepInput, StepLimits, StepOptions, StepOutput, StepResult } from './step-options.js';

/**
 * The container engine as the rest of gopid1 sees it: steps, images, volumes and measurements, never the client
 * library under it (dockerode stays inside src/engine/). One per run of gopid1.
 */
export interface Engine {
  /** Identifies this run; the value of the `gopid1` label on everything it creates. */
  readonly runId: string;
  /** Where the engine lives, for messages: "unix:///var/run/docker.sock", "tcp://…", "ssh://…". */
  readonly endpoint: string;
  readonly serverVersion: string;
  /** The engine's architecture in Go's words (amd64, arm64). */
  readonly serverArch: string;
  /** The labels of a container, volume or image this run makes for `role`. */
  labels(role: string): Record<string, string>;
  /** One step in a fresh labelled container: inputs in, output lines out, outputs back, container removed. */
  runStep(options: StepOptions): Promise<StepResult>;
  /** A volume for this run only, labelled; `dispose` removes it. */
  createVolume(role: string): Promise<RunVolume>;
  /** A volume that outlives runs (a cache), created on first use; `replaces` are older layouts to remove then. */
  ensureVolume(name: string, role: string, options?: { replaces?: string[] }): Promise<string>;
  /** The builder image of `spec`, built when no image carries its content hash yet. */
  ensureBuilderImage(spec: BuilderSpec, progress: ImageProgress): Promise<BuilderImage>;
  /** Makes `ref` present (local, pulled, or bootstrapped from Debian's archive) and returns its id. */
  ensureBaseImage(ref: string, progress: ImageProgress): Promise<string>;
  buildImage(build: ImageBuild): Promise<string>;
  removeImage(ref: string): Promise<void>;
  imageSizes(ref: string, signal?: AbortSignal): Promise<ImageSizes>;
  /** Runs an image as `docker run` does, timed to its first output, its memory sampled. */
  runToFirstOutput(options: FirstOutputOptions): Promise<FirstOutputRun>;
  /** Runs an image as plain `docker run --rm` does, to its end or the timeout: what a user's container gets. */
  runProgram(options: ProgramRunOptions): Promise<ProgramRun>;
  /** Removes what gopid1 runs that are gone left in the engine. */
  clean(options: { cacheVolumes: boolean; images: boolean }): Promise<CleanReport>;
}

/** The Engine over a Docker (or Docker-compatible) daemon. */
class DockerEngine implements Engine {
  readonly runId: string;
  readonly endpoint: string;
  readonly serverVersion: string;
  readonly serverArch: string;

  constructor(private readonly session: DockerSession) {
    this.runId = session.runId;
    this.endpoint = session.endpoint;
    this.serverVersion = session.serverVersion;
    this.serverArch = session.serverArch;
  }

  labels(role: string): Record<string, string> {
    return labelsFor(this.session, role);
  }
  runStep(options: StepOptions): Promise<StepResult> {
    return runStep(this.session, options);
  }
  createVolume(role: string): Promise<RunVolume> {
    return createVolume(this.session, role);
  }
  ensureVolume(name: string, role: string, options: { replaces?: string[] } = {}): Promise<string> {
    return ensureVolume(this.session, name, role, options);
  }
  ensureBuilderImage(spec: BuilderSpec, progress: ImageProgress): Promise<BuilderImage> {
    return ensureBuilderImage(this.session, spec, progress);
  }
  ensureBaseImage(ref: string, progress: ImageProgress): Promise<string> {
    return ensureBaseImage(this.session, ref, progress);
  }
  buildImage(build: ImageBuild): Promise<string> {
    return buildImage(this.session, build);
  }
  removeImage(ref: string): Promise<void> {
    return removeImage(this.session, ref);
  }
  imageSizes(ref: string, signal?: AbortSignal): Promise<ImageSizes> {
    return imageSizes(this.session, ref, signal);
  }
  runToFirstOutput(options: FirstOutputOptions): Promise<FirstOutputRun> {
    return runToFirstOutput(this.session, options);
  }
  runProgram(options: ProgramRunOptions): Promise<ProgramRun> {
    return runProgram(this.session, options);
  }
  clean(options: { cacheVolumes: boolean; images: boolean }): Promise<CleanReport> {
    return cleanEngine(this.session, options);
  }
}

/**
 * Connects to the engine the docker CLI would use (DOCKER_HOST, else the Docker context, else the local socket;
 * unix, tcp with TLS, or ssh) and pings it. Fails within ~2 s when nothing answers.
 */
export async function connectEngine(options: { runId?: string } = {}): Promise<Engine> {
  return new DockerEngine(await openSession(options));
}
