import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarFs from 'tar-fs';
import tarStream from 'tar-stream';
import { Gopid1Error } from '../errors.js';
import { BUILDER_UID } from './labels.js';


/** One file to put into a container. */
export interface ArchiveFile {
  /** Path inside the archive, relative, forward slashes. */
  name: string;
  data: Buffer | string;
  mode?: number;
}

/** tar-stream and tar-fs 3 make streamx streams; dockerode wants Node streams. */
function toNodeReadable(stream: AsyncIterable<unknown>): Readable {
  return Readable.from(stream, { objectMode: false });
}

/**
 * Entries for the directories above `names` (in/ for in/a.config), so that they too belong to the builder's user:
 * the engine would create missing ones owned by root, where an unprivileged step cannot remove or add files.
 */
function parentDirectories(pack: tarStream.Pack, names: string[]): void {
  const dirs = new Set<string>();
  for (const name of names) {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const dir of [...dirs].sort()) pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: new Date(0), uid: BUILDER_UID, gid: BUILDER_UID });
}

/** An in-memory tar of a few small files (config fragments, scripts). */
export function packFiles(files: ArchiveFile[]): Readable {
  const pack = tarStream.pack();
  parentDirectories(pack, files.map((file) => file.name));
  for (const file of files) {
    pack.entry({ name: file.name, mode: file.mode ?? 0o644, mtime: new Date(0), uid: BUILDER_UID, gid: BUILDER_UID }, file.data);
  }
  pack.finalize();
  return toNodeReadable(pack);
}

/** A tar holding one file from disk under `name`, streamed (for source tarballs of a hundred MB and more). */
export function packLocalFile(file: string, name: string): Readable {
  const pack = tarStream.pack();
  parentDirectories(pack, [name]);
  stat(file).then(
    ({ size }) => {
      const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0), uid: BUILDER_UID, gid: BUILDER_UID }, (error) => {
        if (error) pack.destroy(error);
        else pack.finalize();
      });
      createReadStream(file)
        .on('error', (error) => pack.destroy(error))
        .pipe(entry as unknown as NodeJS.WritableStream);
    },
    (error: Error) => pack.destroy(error),
  );
  return toNodeReadable(pack);
}

/**
 * A tar of a directory tree with owner and times normalised, its entries under `prefix` when given. `skip`
 * gets paths relative to `dir` (forward slashes) and returns true for those to leave out; a skipped directory
 * drops its whole subtree.
 */
export function packDirectory(dir: string, options: { skip?: (relative: string) => boolean; prefix?: string } = {}): Readable {
  const root = path.resolve(dir);
  const skip = options.skip ?? (() => false);
  const prefix = options.prefix === undefined ? '' : `${options.prefix.replace(/\/+$/, '')}/`;
  const pack = tarFs.pack(root, {
    ignore: (name: string) => {
      const relative = path.relative(root, name).split(path.sep).join('/');
      return relative !== '' && skip(relative);
    },
    map: (header) => ({ ...header, name: `${prefix}${header.name}`, uid: BUILDER_UID, gid: BUILDER_UID, uname: 'builder', gname: 'builder', mtime: new Date(0) }),
  });
  return toNodeReadable(pack as unknown as AsyncIterable<unknown>);
}

/** Why a tar entry must not be extracted under a destination, or undefined when it is safe. */
export function unsafeEntryReason(header: { name: string; type?: string | null; linkname?: string | null }): string | undefined {
  const name = header.name;
  if (name.includes('\0')) return 'name contains a NUL byte';
  if (path.posix.isAbsolute(name) || /^[A-Za-z]:[\\/]/.test(name)) return 'absolute path';
  const segments = name.split(/[\\/]/);
  if (segments.includes('..')) return 'path contains ".."';
  const type = header.type ?? 'file';
  if (type === 'block-device' || type === 'character-device' || type === 'fifo') return `${type} entries are not allowed`;
  if (type === 'symlink' || type === 'link') {
    const target = header.linkname ?? '';
    if (path.posix.isAbsolute(target)) return `${type} to absolute path ${target}`;
    // Symlink targets are relative to the link's directory; hard link targets to the archive root.
    const base = type === 'symlink' ? path.posix.dirname(path.posix.normalize(name)) : '.';
    const resolved = path.posix.normalize(path.posix.join(base, target));
    if (resolved === '..' || resolved.startsWith('../')) return `${type} pointing outside the destination (${target})`;
  }
  return undefined;
}

/**
 * Pipes a tar stream into an extractor until it finishes. On a failure (e.g. a full disk) it hangs up on the
 * source too: an engine's archive stream left unread keeps the container busy, and removing it would wait forever.
 */
function pipeToExtract(source: NodeJS.ReadableStream, extract: tarStream.Extract | ReturnType<typeof tarFs.extract>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error: unknown): void => {
      (source as Readable).destroy?.();
      extract.destroy();
      reject(error);
    };
    source.on('error', fail);
    extract.on('error', fail);
    extract.on('finish', () => resolve());
    source.pipe(extract as unknown as NodeJS.WritableStream);
  });
}

/** The content of the first regular file in a tar stream (e.g. one file taken out with getArchive). */
export async function readFirstFile(source: NodeJS.ReadableStream): Promise<Buffer> {
  const extract = tarStream.extract();
  const chunks: Buffer[] = [];
  let found = false;
  extract.on('entry', (header, stream, next) => {
    if (!found && header.type === 'file') {
      found = true;
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    }
    stream.on('end', next);
    stream.resume();
  });
  await pipeToExtract(source, extract);
  if (!found) throw new Error('the archive holds no file');
  return Buffer.concat(chunks);
}

/**
 * Extracts a tar stream into `dest` (created if needed). Refuses the whole archive, with UNSAFE_ARCHIVE, when
 * any entry would land outside `dest`: absolute paths, "..", links leading out, device nodes. Safe entries
 * may already be written when that happens, so extract into a directory of its own and drop it on error.
 * Returns the names of the entries written.
 */
export async function extractArchive(source: NodeJS.ReadableStream, dest: string, what: string): Promise<string[]> {
  await mkdir(dest, { recursive: true });
  const written: string[] = [];
  const refused: string[] = [];
  const extract = tarFs.extract(dest, {
    ignore: (_name: string, header?: { name: string; type?: string | null; linkname?: string | null }) => {
      if (!header) return false;
      const reason = unsafeEntryReason(header);
      if (reason !== undefined) {
        refused.push(`${header.name}: ${reason}`);
        return true;
      }
      written.push(header.name);
      return false;
    },
    // Never restore the archive's owners; drop group/other write from its modes.
    chown: false,
    umask: 0o022,
  } as tarFs.ExtractOptions);
  await pipeToExtract(source, extract).catch((error: unknown) => {
    // tar-fs's own refusals (a path through a link, a link chain out of dest) are the same verdict as ours.
    const message = error instanceof Error ? error.message : String(error);
    if (!/ is not a valid (path|symlink|hardlink)$/.test(message)) throw error;
    refused.push(message);
  });
  if (refused.length > 0) {
    throw new Gopid1Error('UNSAFE_ARCHIVE', `refused to extract ${what}: ${refused.length} entr${refused.length === 1 ? 'y' : 'ies'} would land outside ${dest}`, {
      hint: 'The archive is not what a builder step produces; rebuild the builder images (`gopid1 clean --images`) and report this if it happens again.',
      logTail: refused.slice(0, 20),
    });
  }
  return written;
}
