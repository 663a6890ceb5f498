/** Progress events the stages emit; the CLI renders them (spinner, plain lines, or nothing with --json). */

export type Stage = 'kernel' | 'go' | 'initramfs' | 'data' | 'iso' | 'disk' | 'uki' | 'compare' | 'aws';

export type ProgressEvent =
  /** A stage began a step: "building the kernel builder image", "compiling". */
  | { kind: 'step'; stage: Stage; text: string }
  /** A live counter within the current step: "412 objects compiled". */
  | { kind: 'count'; stage: Stage; text: string }
  /** The stage finished; `text` sums it up. */
  | { kind: 'done'; stage: Stage; text: string }
  /** Something the user should know that does not stop the build. */
  | { kind: 'warning'; stage: Stage; text: string }
  /** One line of a builder's output (also in the stage's log file). */
  | { kind: 'line'; stage: Stage; line: string };

export type Reporter = (event: ProgressEvent) => void;

export const silent: Reporter = () => undefined;
