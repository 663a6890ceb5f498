import { ContentCache } from '../artifacts/cache.js';
import { type CleanReport, connectEngine } from '../engine/engine.js';
import { removeDeadRunFiles } from '../artifacts/leftovers.js';

export interface CleanOptions {
  /** Also empty the artifact cache and the Go module cache volume. */
  cache?: boolean;
  /** Also remove the builder images (they are rebuilt on the next build). */
  images?: boolean;
}

export interface CleanResult extends CleanReport {
  cacheDir?: string;
  /** Temporary files and directories of runs that died (cache, downloads, QMP sockets). */
  leftovers: string[];
}

/** Removes every container and volume a gopid1 run left behind (e.g. after kill -9), and caches on request. */
export async function clean(options: CleanOptions = {}): Promise<CleanResult> {
  const engine = await connectEngine();
  const report = await engine.clean({ cacheVolumes: options.cache ?? false, images: options.images ?? false });
  const cache = new ContentCache();
  const leftovers = await removeDeadRunFiles({ cacheRoot: cache.root });
  if (options.cache) {
    await cache.clear();
    return { ...report, leftovers, cacheDir: cache.root };
  }
  return { ...report, leftovers };
}
