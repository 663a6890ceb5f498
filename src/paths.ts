import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  // build/src/paths.js → the package root is the first parent with gopid1's package.json.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'gopid1') return dir;
    } catch {
      // keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the gopid1 package root');
    dir = parent;
  }
}

/** The installed package: holds dockerfiles/ and package.json. */
export const packageRoot = findRoot();
export const dockerfilesDir = path.join(packageRoot, 'dockerfiles');
/** Go source of the supervising init (`--init supervise`). */
export const supervisorDir = path.join(packageRoot, 'init');
export const toolVersion = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
