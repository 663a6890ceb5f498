import type { ContentCache } from './artifacts/cache.js';
import type { OutputDir } from './artifacts/out.js';
import type { Engine, StepLimits } from './engine/engine.js';
import type { Reporter } from './progress.js';

/** What every stage of a build is handed: one per build, made by `build()`. */
export interface StageContext {
  readonly engine: Engine;
  /** Stages write into out.staging and their logs into out.logs; the build commits staging at the end. */
  readonly out: OutputDir;
  readonly limits: StepLimits;
  readonly cache: ContentCache;
  /** The shipped builder contexts (dockerfiles/). */
  readonly dockerfilesDir: string;
  readonly report: Reporter;
  readonly signal?: AbortSignal;
}
