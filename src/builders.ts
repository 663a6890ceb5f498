import path from 'node:path';
import type { BuilderImage, Engine } from './engine/engine.js';
import type { Reporter } from './progress.js';

/**
 * The builder image of a stage: dockerfiles/<stage>/ on debian:<series>, built when its content hash is new,
 * its build log in <logDir>/<stage>-builder-image.log and its lines reported under the stage.
 */
export function stageBuilder(
  engine: Engine,
  options: { stage: 'kernel' | 'go' | 'iso'; series: string; dockerfilesDir: string; logDir: string; report: Reporter; signal?: AbortSignal | undefined },
): Promise<BuilderImage> {
  const { stage, series, report } = options;
  report({ kind: 'step', stage, text: `preparing the ${stage} builder image` });
  return engine.ensureBuilderImage({
      name: stage,
      contextDir: path.join(options.dockerfilesDir, stage),
      // Config fragments go to each build as inputs: editing one must not rebuild a 2 GB image.
      ignore: stage === 'kernel' ? ['fragments'] : [],
      buildArgs: { SERIES: series },
      baseImage: `debian:${series}`,
    },
    { logFile: path.join(options.logDir, `${stage}-builder-image.log`), signal: options.signal, onLine: (line) => report({ kind: 'line', stage, line }) },
  );
}
