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

/** "512m", "2g", "1.5GiB", "1073741824" → bytes (binary units, as docker's --memory). */
export function byteSize(name: string) {
  return (value: string): number => {
    const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
    if (!match) throw new InvalidArgumentError(`${name} must be a size such as 512m or 2g.`);
    const power = ['', 'k', 'm', 'g', 't'].indexOf((match[2] ?? '').toLowerCase());
    return Math.round(Number(match[1]) * 1024 ** power);
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
