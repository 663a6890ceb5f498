/**
 * What the rest of gopid1 may use of src/engine/: the Engine interface and its types, the archive helpers that
 * pack a step's inputs, and the engine's errors. Nothing here hands out a dockerode object.
 */
export { connectEngine, type Engine } from './engine.js';
export { newRunId } from './connect.js';
export { packDirectory, packFiles, packLocalFile, type ArchiveFile } from './archive.js';
export { BUILDER_UID, COMPARE_LABEL } from './labels.js';
export type { BuilderImage, BuilderSpec } from './builder-images.js';
export type { CleanReport } from './clean.js';
export type { ImageBuild, ImageProgress } from './image-build.js';
export type { FirstOutputOptions, FirstOutputRun, ImageSizes } from './measure.js';
export type { RunVolume, StepInput, StepLimits, StepOptions, StepOutput, StepResult } from './run.js';
