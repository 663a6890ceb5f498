import { badInput } from './check.js';
import type { BuildOptions } from './options.js';

/** What the Go builder compiles: the package, cgo, stripping, build tags; with test, the package's test binary. */
export interface ProgramPlan {
  readonly package: string;
  readonly cgo: boolean;
  readonly strip: boolean;
  /** Go build tags (`go build -tags`), each once, in the order given; absent when none. */
  readonly tags?: readonly string[];
  readonly test?: boolean;
  /** With test: a package outside the module by its import path (the standard library's, a dependency's), built from the module. */
  readonly importPath?: string;
}

/** A build tag as Go reads one: letters, digits, underscore and dot (go1.22, timetzdata, !cgo is a constraint, not a tag). */
const TAG = /^[A-Za-z0-9_.]+$/;

/** Build tags from a list whose entries may themselves be comma-separated (`--tags a,b --tags c`), each checked once. */
export function planTags(tags: readonly string[] | undefined): string[] {
  const words = (tags ?? []).flatMap((entry) => entry.split(',')).map((word) => word.trim()).filter((word) => word !== '');
  const bad = words.find((word) => !TAG.test(word));
  if (bad !== undefined) throw badInput('tags', `has "${bad}", which is not a Go build tag`, 'Tags are words of letters, digits, _ and . (e.g. timetzdata,netgo), comma-separated as go build -tags takes them.');
  return [...new Set(words)];
}

export function planProgram(options: BuildOptions): ProgramPlan {
  const tags = planTags(options.tags);
  return { package: options.package ?? '.', cgo: options.cgo ?? false, strip: options.strip ?? true, ...(tags.length > 0 ? { tags } : {}) };
}
