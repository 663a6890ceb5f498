import os from 'node:os';

/**
 * The label keys gopid1 puts on what it creates in the engine, and the builders' user: written once, here (the
 * uid reaches the Dockerfiles as the BUILDER_UID build argument).
 */

/** On every container, per-run volume and comparison image; its value is the run id. */
export const LABEL = 'gopid1';
/** What a container is for, e.g. "kernel-compile". */
export const ROLE_LABEL = 'gopid1.role';
/** Which process made it: `gopid1 clean` leaves those of runs still alive on this host alone. */
export const HOST_LABEL = 'gopid1.host';
export const PID_LABEL = 'gopid1.pid';
/** On volumes that outlive runs (the Go caches); its value is their role. */
export const CACHE_LABEL = 'gopid1.cache';
/** On builder images: the builder's name, and the content hash of its context. */
export const BUILDER_LABEL = 'gopid1.builder';
export const CONTEXT_LABEL = 'gopid1.context';
/** On images `gopid1 compare` builds: the variant. */
export const COMPARE_LABEL = 'gopid1.compare';

/**
 * The builders' unprivileged user (`useradd --uid $BUILDER_UID builder` in each Dockerfile): the owner of
 * everything copied into a container, so steps can write where their inputs are.
 */
export const BUILDER_UID = 10001;

/** The labels of a container or volume made by run `runId` for `role`. */
export function runLabels(runId: string, role: string): Record<string, string> {
  return { [LABEL]: runId, [ROLE_LABEL]: role, [HOST_LABEL]: os.hostname(), [PID_LABEL]: String(process.pid) };
}
