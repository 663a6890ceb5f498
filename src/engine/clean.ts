import { LABEL, engineError, type Engine } from './connect.js';

export interface CleanReport {
  containers: number;
  volumes: number;
  images: number;
}

/**
 * Removes what gopid1 left in the engine: every container and per-run volume labelled `gopid1` (from any
 * run, e.g. one killed with -9), and on request the persistent cache volumes and the builder images.
 */
export async function cleanEngine(engine: Engine, options: { cacheVolumes: boolean; images: boolean }): Promise<CleanReport> {
  const report: CleanReport = { containers: 0, volumes: 0, images: 0 };
  try {
    const containers = await engine.docker.listContainers({ all: true, filters: { label: [LABEL] } });
    for (const info of containers) {
      await engine.docker.getContainer(info.Id).remove({ force: true, v: true });
      report.containers += 1;
    }
    const labels = [LABEL, ...(options.cacheVolumes ? ['gopid1.cache'] : [])];
    for (const label of labels) {
      const { Volumes } = await engine.docker.listVolumes({ filters: { label: [label] } });
      for (const volume of Volumes ?? []) {
        await engine.docker.getVolume(volume.Name).remove();
        report.volumes += 1;
      }
    }
    if (options.images) {
      const images = await engine.docker.listImages({ filters: { label: ['gopid1.builder'] } });
      for (const image of images) {
        await engine.docker.getImage(image.Id).remove({ force: true });
        report.images += 1;
      }
    }
  } catch (error) {
    throw engineError('cleaning up gopid1 containers and volumes', error);
  }
  return report;
}
