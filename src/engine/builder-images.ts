import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { packDirectory, readFirstFile } from './archive.js';
import { ensureBaseImage } from './base-image.js';
import { labelsFor, type DockerSession } from './connect.js';
import { buildImage, imageId, type ImageProgress } from './image-build.js';
import { BUILDER_LABEL, BUILDER_UID, CONTEXT_LABEL } from './labels.js';

export interface BuilderSpec {
  /** "kernel", "go": the directory under dockerfiles/ and the image name gopid1-<name>-builder. */
  name: string;
  contextDir: string;
  /** Paths in contextDir (relative, forward slashes) that are not part of the image, e.g. the kernel's fragments. */
  ignore?: string[];
  /** Besides BUILDER_UID, which every builder gets. */
  buildArgs: Record<string, string>;
  /** The FROM image the Dockerfile uses with these build args, e.g. "debian:trixie". */
  baseImage: string;
}

export interface BuilderImage {
  /** gopid1-<name>-builder:<hash of Dockerfile, context and build args> */
  tag: string;
  /** The engine's image id (sha256:…). */
  id: string;
  /** Debian packages installed in it, "name=version", sorted. */
  packages: string[];
  /** True when this run built it. */
  built: boolean;
}

/** Every file of a build context (but `ignore`), hashed in name order with its exec bit: the image's identity. */
export async function hashContext(dir: string, extra: Record<string, string>, ignore: string[] = []): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (relative: string): Promise<void> => {
    const entries = (await readdir(path.join(dir, relative), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (ignore.includes(child)) continue;
      if (entry.isDirectory()) {
        await walk(child);
      } else if (entry.isFile()) {
        const full = path.join(dir, child);
        const executable = ((await stat(full)).mode & 0o111) !== 0;
        hash.update(`${child}\0${executable ? 'x' : '-'}\0`);
        hash.update(await readFile(full));
        hash.update('\0');
      }
    }
  };
  await walk('');
  for (const key of Object.keys(extra).sort()) hash.update(`${key}=${extra[key]}\0`);
  return hash.digest('hex');
}

async function readPackages(session: DockerSession, id: string): Promise<string[]> {
  // Read the list the Dockerfile wrote, from a created (never started) container.
  const container = await session.docker.createContainer({ Image: id, Cmd: ['true'], Labels: labelsFor(session, 'inspect') });
  try {
    const archive = await container.getArchive({ path: '/usr/share/gopid1-packages.txt' });
    return (await readFirstFile(archive))
      .toString()
      .split('\n')
      .filter((line) => line !== '')
      .sort();
  } catch {
    return [];
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * Returns the builder image for `spec`, building it when no image carries its content hash yet. The build
 * stream is logged and shown; its first error entry fails the build with that line.
 */
export async function ensureBuilderImage(session: DockerSession, spec: BuilderSpec, progress: ImageProgress): Promise<BuilderImage> {
  const ignore = spec.ignore ?? [];
  const buildArgs = { ...spec.buildArgs, BUILDER_UID: String(BUILDER_UID) };
  const hash = await hashContext(spec.contextDir, { ...buildArgs, FROM: spec.baseImage }, ignore);
  const tag = `gopid1-${spec.name}-builder:${hash.slice(0, 16)}`;
  let id = await imageId(session, tag);
  let built = false;
  if (!id) {
    await ensureBaseImage(session, spec.baseImage, progress);
    id = await buildImage(session, {
      context: () => packDirectory(spec.contextDir, { skip: (relative) => ignore.includes(relative) }),
      tag,
      what: `the ${spec.name} builder image`,
      from: spec.contextDir,
      buildArgs,
      labels: { [BUILDER_LABEL]: spec.name, [CONTEXT_LABEL]: hash },
      hint: 'Builder images install Debian packages, so Debian\'s archive must answer from containers.',
      progress,
    });
    built = true;
  }
  return { tag, id, packages: await readPackages(session, id), built };
}
