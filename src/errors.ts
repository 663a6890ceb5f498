/**
 * The one error family of gopid1. Every failure a user can meet is a Gopid1Error with a stable `code`, a
 * one-line `message` that says what went wrong, a `hint` that says what to do next, and where it applies the
 * failing step or command, its exit code and the tail of its log. The CLI prints these fields, not a stack.
 */

export type ErrorCode =
  | 'BAD_INPUT'
  | 'DOCKER_UNAVAILABLE'
  | 'DOCKER_FAILED'
  | 'IMAGE_BUILD_FAILED'
  | 'BASE_IMAGE_UNAVAILABLE'
  | 'STEP_FAILED'
  | 'GO_COMPILE_FAILED'
  | 'NOT_STATIC'
  | 'KERNEL_SOURCE'
  | 'KCONFIG_REJECTED'
  | 'UNSAFE_ARCHIVE'
  | 'QEMU_MISSING'
  | 'BOOT_FAILED'
  | 'BOOT_TIMEOUT'
  | 'KERNEL_PANIC'
  | 'WATCHDOG_RESET'
  | 'COMPARE_FAILED'
  | 'ENGINE_LOST'
  | 'NO_SPACE'
  | 'CLOUD_CREDENTIALS'
  | 'CLOUD_FAILED'
  | 'INTERRUPTED';

export interface Gopid1ErrorDetails {
  /** What to do next, one or two sentences. */
  hint?: string;
  /** The pipeline step that failed, e.g. "kernel: compile". */
  step?: string;
  /** The command that ran, as a user would type it. */
  command?: string;
  exitCode?: number;
  /** Last lines of the step's output, oldest first. */
  logTail?: string[];
  /** Where the full log was written. */
  logFile?: string;
  /** The API option (BuildOptions field) a BAD_INPUT is about; the CLI names its flag instead. */
  field?: string;
  cause?: unknown;
}

export class Gopid1Error extends Error {
  override readonly name = 'Gopid1Error';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly step: string | undefined;
  readonly command: string | undefined;
  readonly exitCode: number | undefined;
  readonly logTail: string[];
  readonly logFile: string | undefined;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, details: Gopid1ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.hint = details.hint;
    this.step = details.step;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.logTail = details.logTail ?? [];
    this.logFile = details.logFile;
    this.field = details.field;
  }
}

export function isGopid1Error(error: unknown): error is Gopid1Error {
  return error instanceof Gopid1Error;
}

/** The error every stage throws when its AbortSignal fires (Ctrl-C, SIGTERM, or a caller's abort). */
/** A BAD_INPUT error about input that is no build option (plan/check.ts badInput names the option's field). */
export function refused(message: string, hint: string): Gopid1Error {
  return new Gopid1Error('BAD_INPUT', message, { hint });
}

export function interrupted(step: string, hint = 'Nothing was written to the final paths; run the command again to start over.'): Gopid1Error {
  return new Gopid1Error('INTERRUPTED', `interrupted during ${step}`, { step, hint });
}

/** Throws the INTERRUPTED error when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, step: string): void {
  if (signal?.aborted) throw interrupted(step);
}

/**
 * The system error with this errno code (e.g. "ENOSPC") in `error` or its chain of causes: a Gopid1Error
 * keeps the one that made it as `cause`.
 */
export function errnoIn(error: unknown, code: string): NodeJS.ErrnoException | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
    if ((current as NodeJS.ErrnoException).code === code) return current as NodeJS.ErrnoException;
  }
  return undefined;
}

/** The same error with another hint (a Gopid1Error's fields are read-only). */
export function withHint(error: Gopid1Error, hint: string): Gopid1Error {
  return new Gopid1Error(error.code, error.message, {
    hint,
    ...(error.step !== undefined ? { step: error.step } : {}),
    ...(error.command !== undefined ? { command: error.command } : {}),
    ...(error.exitCode !== undefined ? { exitCode: error.exitCode } : {}),
    logTail: error.logTail,
    ...(error.logFile !== undefined ? { logFile: error.logFile } : {}),
    ...(error.field !== undefined ? { field: error.field } : {}),
    ...(error.cause !== undefined ? { cause: error.cause } : {}),
  });
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
