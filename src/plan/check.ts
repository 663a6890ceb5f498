import { Gopid1Error } from '../errors.js';

/** The plan's input checks: each failure a BAD_INPUT naming the API field (the CLI rewords it with the flag). */

export function badInput(field: string, message: string, hint: string): Gopid1Error {
  return new Gopid1Error('BAD_INPUT', `${field} ${message}`, { hint, field });
}

export function oneOf<T extends string>(field: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  const chosen = value ?? fallback;
  if (!allowed.includes(chosen)) throw badInput(field, `must be one of ${allowed.join(', ')}, not "${String(chosen)}"`, `Use one of: ${allowed.join(', ')}.`);
  return chosen;
}

export function wholeNumber(field: string, value: number, least: number, example: string): number {
  if (!Number.isInteger(value) || value < least) throw badInput(field, `must be a whole number${least > 0 ? ` of at least ${least}` : ''}, not ${value}`, `e.g. ${example}`);
  return value;
}

/** Freezes a value and everything in it: a plan cannot be changed once made. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
