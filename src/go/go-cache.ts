import { createHash } from 'node:crypto';
import { copyFile, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { hashKey } from '../artifacts/cache.js';
import { sha256 } from '../artifacts/files.js';
import { packDirectory } from '../engine/engine.js';
import type { BuilderImage } from '../engine/engine.js';
import { describeError } from '../errors.js';
import type { StageContext } from '../stage.js';

/**
 * The Go stage's cache: a binary is served again when nothing that goes into it changed: the bytes of the source the
 * builder would get (the same normalised tar), the build's options, and the builder (its image and its Debian
 * packages, Go among them). Modules come in through go.sum, which is part of the source. A hit starts no container.
 */
/** What of a Go build's options goes into its binary (GoBuildOptions has them all). */
export interface GoCacheInput {
  app: { dir: string };
  exclude: readonly string[];
  arch: string;
  package: string;
  importPath?: string;
  test?: boolean;
  cgo: boolean;
  tags?: readonly string[];
  strip: boolean;
  supervisor?: boolean;
  sourceDateEpoch: number;
  outName: string;
}

export interface CachedGoMeta {
  goVersion: string;
  /** The modules were fetched by the download step (recorded as the build's downloadNetwork). */
  downloaded: boolean;
}

/** Paths under the app directory never sent to the builder: its .git and what the build excludes (the out dir). */
export function sourceSkip(options: Pick<GoCacheInput, 'exclude'>): (relative: string) => boolean {
  const exclude = new Set(['.git', ...options.exclude]);
  return (relative) => exclude.has(relative);
}

/** sha256 of the tar the builder gets of the app's source. */
async function sourceHash(options: GoCacheInput): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(packDirectory(options.app.dir, { skip: sourceSkip(options) }), hash);
  return hash.digest('hex');
}

export async function goCacheKey(options: GoCacheInput, builder: BuilderImage): Promise<string> {
  return hashKey({
    v: 1,
    source: await sourceHash(options),
    program: { arch: options.arch, package: options.package, importPath: options.importPath, test: options.test ?? false, cgo: options.cgo, tags: options.tags ?? [], strip: options.strip, supervisor: options.supervisor ?? false },
    epoch: options.sourceDateEpoch,
    builder: builder.tag,
    packages: sha256(builder.packages.join('\n')),
  });
}

/** The cached binary of this key, staged as the build's; undefined when there is none. */
export async function goFromCache(context: StageContext, key: string, options: GoCacheInput): Promise<(CachedGoMeta & { binary: string; bytes: number }) | undefined> {
  const hit = await context.cache.get<CachedGoMeta>('go', key);
  const cached = hit?.files.binary;
  if (!hit || !cached) return undefined;
  const binary = context.out.staged(options.outName);
  await copyFile(cached, binary);
  return { ...hit.meta, binary, bytes: (await stat(binary)).size };
}

/** Stores a built binary; a cache that cannot take it (read-only home, full disk) only costs the next build. */
export async function goToCache(context: StageContext, key: string, binary: string, meta: CachedGoMeta): Promise<void> {
  await context.cache.put<CachedGoMeta>('go', key, { binary }, meta).catch((error: unknown) => {
    context.report({ kind: 'warning', stage: 'go', text: `could not store the program in the cache ${context.cache.root}: ${describeError(error)}` });
  });
}
