/**
 * The one deadline helper: settles like `promise`, or with `onTimeout()` (its value, or its throw) once `ms` have
 * passed; the timer is cleared either way (and keeps Node alive meanwhile: a request that the connection under it
 * dropped may never settle, and the deadline must still come).
 */
export async function within<T, U>(promise: Promise<T>, ms: number, onTimeout: () => U): Promise<T | Awaited<U>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))).then(onTimeout);
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** "1.5 s" or "300 ms". */
export function durationText(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Settles like `promise`, or rejects with "<what> within …" after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'no answer'): Promise<T> {
  return within(promise, ms, () => {
    throw new Error(`${what} within ${durationText(ms)}`);
  });
}
