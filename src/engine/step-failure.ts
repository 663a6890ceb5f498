import { Gopid1Error, withHint } from '../errors.js';
import type { StepOptions } from './step-options.js';

export function commandLine(cmd: string[]): string {
  return cmd.map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Builders say this when a write failed because the engine's storage (its data root) is full. */
const NO_SPACE_LINE = /no space left on device/i;

/**
 * The error for a step that exited non-zero: the caller's own (`onFailure`) or STEP_FAILED, with the log tail
 * and a hint; when the tail says a write found no space, the hint says the Docker engine's storage is full
 * instead, whatever the step.
 */
export function stepFailure(
  options: Pick<StepOptions, 'title' | 'cmd' | 'logFile' | 'limits' | 'onFailure'>,
  exitCode: number,
  tail: string[],
): Gopid1Error {
  const error =
    options.onFailure?.(exitCode, tail) ??
    new Gopid1Error('STEP_FAILED', `${options.title} failed with exit code ${exitCode}`, {
      step: options.title,
      command: commandLine(options.cmd),
      exitCode,
      logTail: tail,
      logFile: options.logFile,
      hint:
        exitCode === 137
          ? `The builder container was killed (out of memory${options.limits?.memoryBytes !== undefined ? ` within --memory-limit ${Math.round(options.limits.memoryBytes / 2 ** 20)} MiB` : ''}, or stopped from outside). Raise --memory-limit, free memory or lower --jobs, and run again.`
          : `Read the log tail above (full log: ${options.logFile}); fix the cause and run again.`,
    });
  if (!tail.some((line) => NO_SPACE_LINE.test(line))) return error;
  return withHint(
    error,
    'The Docker engine\'s storage is full: the builder wrote into its container or a volume, which live in the engine\'s data root (e.g. /var/lib/docker), ' +
      'and found no space. See what uses it with `docker system df`; free it with `gopid1 clean --images` (builder images are rebuilt when needed), ' +
      '`gopid1 clean --cache` or `docker system prune`, or give the engine a bigger disk; then run again.',
  );
}
