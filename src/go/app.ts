import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';

/** What gopid1 reads of an app before building it. */
export interface AppFacts {
  dir: string;
  module: string;
  /** vendor/modules.txt exists: builds need no network. */
  vendored: boolean;
  /** go.mod requires modules. */
  hasRequires: boolean;
  /** Some file of the main package says import "C". */
  usesCgo: boolean;
}

async function goFilesOf(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith('.go') && !name.endsWith('_test.go'));
  } catch {
    return [];
  }
}

/**
 * Checks that `appDir` holds a Go module with a main package at `pkg` (with `test`, any package: its test binary is
 * the program), before any container starts.
 */
export async function inspectApp(appDir: string, pkg: string, options: { test?: boolean } = {}): Promise<AppFacts> {
  const dir = path.resolve(appDir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new Gopid1Error('BAD_INPUT', `app directory ${appDir} does not exist`, { hint: 'Pass the directory that holds your go.mod, e.g. `gopid1 build ./myapp`.' });
  }
  let goMod: string;
  try {
    goMod = await readFile(path.join(dir, 'go.mod'), 'utf8');
  } catch {
    throw new Gopid1Error('BAD_INPUT', `${appDir} has no go.mod`, {
      hint: `gopid1 builds Go modules. Create one with \`go mod init example.com/${path.basename(dir)}\` in ${appDir}, or pass the module's directory.`,
    });
  }
  const module = /^module\s+(\S+)/m.exec(goMod)?.[1];
  if (!module) throw new Gopid1Error('BAD_INPUT', `${appDir}/go.mod has no module line`, { hint: 'Start go.mod with `module <path>`.' });
  if (path.isAbsolute(pkg) || pkg.split(/[\\/]/).includes('..')) {
    throw new Gopid1Error('BAD_INPUT', `--package ${pkg} must be a path inside the module`, { hint: 'Use a relative path such as ./cmd/server.' });
  }
  const pkgDir = path.join(dir, pkg);
  const files = await goFilesOf(pkgDir);
  const sources = await Promise.all(files.map((name) => readFile(path.join(pkgDir, name), 'utf8')));
  if (!options.test && !sources.some((text) => /^package\s+main\b/m.test(text))) {
    throw new Gopid1Error('BAD_INPUT', `${path.join(appDir, pkg)} is not a Go main package (no .go file says "package main")`, {
      hint: 'PID 1 must be a program. Point at the directory of your main package, or pass --package ./cmd/<name>.',
    });
  }
  const vendored = await stat(path.join(dir, 'vendor', 'modules.txt')).then(() => true, () => false);
  return {
    dir,
    module,
    vendored,
    hasRequires: /^\s*require\b/m.test(goMod),
    usesCgo: sources.some((text) => /^\s*import\s+(\(\s*)?"C"/m.test(text) || /^\s*"C"\s*$/m.test(text)),
  };
}
