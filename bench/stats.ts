/**
 * The default kernel's make by hand in the kernel builder, as the blog ran it: tinyconfig, the fragments mounted at
 * /frag.config and /rd.config merged, olddefconfig, bzImage with `jobs` jobs; then `after` (what to do with the result).
 */
export function kernelByHand(jobs: number, after: string): string {
  return (
    'set -e; make -s -C /usr/src/linux O=/work/b tinyconfig >/dev/null; /usr/src/linux/scripts/kconfig/merge_config.sh -m -O /work/b /work/b/.config /frag.config /rd.config >/dev/null; ' +
    `make -s -C /usr/src/linux O=/work/b olddefconfig; make -s -C /usr/src/linux O=/work/b -j${jobs} bzImage >/dev/null; ${after}`
  );
}

/** The median of measured values (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
