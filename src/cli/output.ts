import { constants } from 'node:os';
import { isGopid1Error } from '../index.js';

/** How a command talks: a spinner on a terminal, plain lines when piped, one JSON document with --json. */
export type OutputMode = 'tty' | 'plain' | 'json';

export interface GlobalFlags {
  json?: boolean;
  debug?: boolean;
  verbose?: boolean;
}

export function outputMode(flags: GlobalFlags): OutputMode {
  if (flags.json) return 'json';
  // A terminal without a width (some pseudo-terminals) cannot host a spinner that redraws itself.
  return process.stderr.isTTY && (process.stderr.columns ?? 0) > 0 && !process.env.CI ? 'tty' : 'plain';
}

const MIB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  return bytes.toLocaleString('en-US');
}

export function formatMiB(bytes: number): string {
  return (bytes / MIB).toFixed(2);
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A left/right aligned text table. */
export function table(rows: string[][], rightAligned: number[] = []): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (rightAligned.includes(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** 128 + the signal's number, as a shell reports a job a signal ended: SIGINT 130, SIGTERM 143, SIGHUP 129. */
export function signalExitCode(signal: NodeJS.Signals = 'SIGINT'): number {
  return 128 + constants.signals[signal];
}

/**
 * The exit code for a failure: the program's status for boot failures that carry one; for interrupts that of
 * the signal that caused them (130 when none did, e.g. an API caller's abort).
 */
export function exitCodeFor(error: unknown, signal?: NodeJS.Signals): number {
  if (!isGopid1Error(error)) return 1;
  if (error.code === 'INTERRUPTED') return signalExitCode(signal);
  if ((error.code === 'BOOT_FAILED' || error.code === 'BOOT_TIMEOUT') && error.exitCode !== undefined && error.exitCode > 0 && error.exitCode < 256) {
    return error.exitCode;
  }
  return 1;
}

/** One paragraph on stderr: what failed, where, the log tail, and what to do. The stack only with --debug. */
export function formatError(error: unknown, debug: boolean): string {
  if (!isGopid1Error(error)) {
    const text = error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
    return `gopid1: error: ${text}\n${debug ? '' : '  (this is a bug in gopid1; run again with --debug for the stack trace and report it)\n'}`;
  }
  const lines = [`gopid1: error: ${error.message} [${error.code}]`];
  if (error.step) lines.push(`  step: ${error.step}${error.exitCode !== undefined ? ` (exit code ${error.exitCode})` : ''}`);
  if (error.command) lines.push(`  command: ${error.command}`);
  for (const line of error.logTail) lines.push(`  | ${line}`);
  if (error.logFile) lines.push(`  log: ${error.logFile}`);
  if (error.hint) lines.push(`  → ${error.hint}`);
  if (debug) {
    lines.push(error.stack ?? '');
    if (error.cause instanceof Error) lines.push(`cause: ${error.cause.stack ?? error.cause.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export function errorJson(error: unknown): Record<string, unknown> {
  if (!isGopid1Error(error)) return { ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } };
  return {
    ok: false,
    error: {
      code: error.code,
      message: error.message,
      hint: error.hint,
      step: error.step,
      command: error.command,
      exitCode: error.exitCode,
      logTail: error.logTail,
      logFile: error.logFile,
    },
  };
}
