import os from 'node:os';
import { engineError, type DockerSession } from './connect.js';
import { BUILDER_LABEL, CACHE_LABEL, HOST_LABEL, LABEL, PID_LABEL } from './labels.js';

export interface CleanReport {
  containers: number;
  volumes: number;
  images: number;
  /** Containers and volumes of gopid1 runs still alive on this host, left alone. */
  skippedLive: number;
}

/** True when the labels name a process on this host that still runs (and is not this one). */
function ownedByLiveRun(labels: Record<string, string> | undefined): boolean {
  const pid = Number(labels?.[PID_LABEL]);
  if (labels?.[HOST_LABEL] !== os.hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function gone(error: unknown): boolean {
  const status = (error as { statusCode?: number }).statusCode;
  return status === 404 || status === 409;
}

/** Runs one removal; 1 when it removed something, 0 when it was already gone (or going). */
async function removed(remove: () => Promise<unknown>): Promise<number> {
  try {
    await remove();
    return 1;
  } catch (error) {
    if (gone(error)) return 0;
    throw error;
  }
}

/**
 * Removes what gopid1 left in the engine: every container, per-run volume and comparison image labelled
 * `gopid1` whose run is gone (for instance killed with -9), and on request the persistent cache volumes and the
 * builder images.
 * Runs still alive on this host keep theirs.
 */
export async function cleanEngine(session: DockerSession, options: { cacheVolumes: boolean; images: boolean }): Promise<CleanReport> {
  const report: CleanReport = { containers: 0, volumes: 0, images: 0, skippedLive: 0 };
  try {
    const containers = await session.docker.listContainers({ all: true, filters: { label: [LABEL] } });
    for (const info of containers) {
      if (ownedByLiveRun(info.Labels)) {
        report.skippedLive += 1;
        continue;
      }
      report.containers += await removed(() => session.docker.getContainer(info.Id).remove({ force: true, v: true }));
    }
    const labels = [LABEL, ...(options.cacheVolumes ? [CACHE_LABEL] : [])];
    for (const label of labels) {
      const { Volumes } = await session.docker.listVolumes({ filters: { label: [label] } });
      for (const volume of Volumes ?? []) {
        if (ownedByLiveRun(volume.Labels ?? undefined)) {
          report.skippedLive += 1;
          continue;
        }
        report.volumes += await removed(() => session.docker.getVolume(volume.Name).remove());
      }
    }
    // Images `gopid1 compare` made (labelled with their run, unlike builder images) whose run is gone.
    for (const image of await session.docker.listImages({ filters: { label: [LABEL] } })) {
      if (ownedByLiveRun(image.Labels ?? undefined)) {
        report.skippedLive += 1;
        continue;
      }
      report.images += await removed(() => session.docker.getImage(image.Id).remove({ force: true }));
    }
    if (options.images) {
      const images = await session.docker.listImages({ filters: { label: [BUILDER_LABEL] } });
      for (const image of images) {
        report.images += await removed(() => session.docker.getImage(image.Id).remove({ force: true }));
      }
    }
  } catch (error) {
    throw engineError('cleaning up gopid1 containers and volumes', error);
  }
  return report;
}
