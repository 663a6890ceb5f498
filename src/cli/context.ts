import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { GlobalFlags } from './output.js';

/** What every command gets from the entry point. */
export interface CommandContext {
  /** Fires on the first Ctrl-C or SIGTERM. */
  signal: AbortSignal;
  /** Set by a command to the process exit code. */
  setExitCode: (code: number) => void;
}

export function globalFlags(command: Command): GlobalFlags {
  return command.optsWithGlobals<GlobalFlags>();
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a positive whole number.`);
    return Number(value);
  };
}

export function nonNegativeInteger(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number (0 or more).`);
    return Number(value);
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`${name} must be a positive number.`);
    return number;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
