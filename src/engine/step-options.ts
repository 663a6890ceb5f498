import type { Readable } from 'node:stream';
import type { Gopid1Error } from '../errors.js';

/**
 * What every builder step runs without: capabilities (the steps run as the images' unprivileged user and need
 * none), gaining privileges through setuid files, and more processes than a parallel kernel compile makes. A step
 * that says which paths it writes (`writable`) also runs on a read-only root filesystem: the engine's archive API
 * copies inputs into those paths' volumes, which a read-only root allows.
 */
export const STEP_HARDENING = { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], PidsLimit: 4096 } as const;

export interface StepInput {
  /** Directory inside the container the archive is unpacked into (must exist in the image or a mount). */
  path: string;
  archive: () => Readable;
}

export interface StepOutput {
  /** File or directory inside the container. */
  path: string;
  /** Host directory it is extracted into (the basename of `path` is kept). */
  dest: string;
}

/** Resources a builder container may use (docker run --cpus, --memory). */
export interface StepLimits {
  cpus?: number;
  memoryBytes?: number;
}

export interface StepOptions {
  /** Short machine name, also the role label: "kernel-compile". */
  role: string;
  /** What a human calls it, for progress and errors: "kernel: compile". */
  title: string;
  image: string;
  cmd: string[];
  env?: Record<string, string>;
  /**
   * The paths the step writes. Given, the container's root filesystem is read-only: each of these is an anonymous
   * volume (seeded from the image, labelled, removed with the container) and /tmp, unless listed, a tmpfs. Inputs
   * and outputs must lie in them.
   */
  writable?: string[];
  /** Named volumes: volume name → mount point. */
  volumes?: Record<string, string>;
  /** Named volumes mounted read-only: volume name → mount point. */
  readOnlyVolumes?: Record<string, string>;
  /** "none" (default) for steps that only compile; "bridge" for steps that fetch. */
  network?: 'none' | 'bridge';
  /**
   * Capabilities the step keeps (all others are dropped): only for a step that runs as root in a stock image to
   * install packages, as apt changes users and dpkg owns files. Builder steps run unprivileged and keep none.
   */
  capabilities?: readonly string[];
  workingDir?: string;
  limits?: StepLimits;
  inputs?: StepInput[];
  outputs?: StepOutput[];
  /** Every output line is appended here; the directory is created. */
  logFile: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** Turns a non-zero exit into the caller's own error; default: STEP_FAILED. */
  onFailure?: (exitCode: number, tail: string[]) => Gopid1Error;
}

export interface StepResult {
  exitCode: number;
  durationMs: number;
}
