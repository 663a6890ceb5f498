import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';

/**
 * The out dir of a build. Artifacts are made in a staging directory inside it and renamed into place only
 * when the whole build succeeded, so a failed or interrupted build never leaves a half-written artifact at
 * a final path (and the previous build's artifacts stay as they were).
 */
export class OutputDir {
  private constructor(
    readonly dir: string,
    readonly staging: string,
    readonly logs: string,
  ) {}

  static async open(out: string, options: { appDir: string; runId: string }): Promise<OutputDir> {
    const dir = path.resolve(out);
    if (dir === path.parse(dir).root) {
      throw new Gopid1Error('BAD_INPUT', `refusing to write build output into ${dir}`, { hint: 'Pass --out with a directory of its own, e.g. --out dist.' });
    }
    if (dir === path.resolve(options.appDir)) {
      throw new Gopid1Error('BAD_INPUT', `the out dir ${out} is the app directory`, { hint: 'Pass --out with a directory of its own, e.g. --out dist.' });
    }
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (error) {
      throw new Gopid1Error('BAD_INPUT', `cannot write to the out dir ${out}`, {
        hint: 'Choose a directory you can write to with --out, or fix its permissions.',
        cause: error,
      });
    }
    const staging = path.join(dir, `.gopid1-staging-${options.runId}`);
    const logs = path.join(dir, 'logs');
    await rm(logs, { recursive: true, force: true });
    await mkdir(staging, { recursive: true, mode: 0o755 });
    await mkdir(logs, { recursive: true, mode: 0o755 });
    return new OutputDir(dir, staging, logs);
  }

  /** Path of a file being made in staging. */
  staged(name: string): string {
    return path.join(this.staging, name);
  }

  /**
   * Moves the staged files into the out dir, then writes manifest.json last (each step atomic). Artifacts the
   * previous build listed and this one does not make (`app` after a switch to --init direct, an ISO after
   * building without --iso) are removed, so the out dir holds one build.
   */
  async commit(files: string[], manifest: unknown): Promise<void> {
    const previous = await readFile(path.join(this.dir, 'manifest.json'), 'utf8')
      .then((text) => Object.values((JSON.parse(text) as { artifacts?: Record<string, { file?: unknown }> }).artifacts ?? {}).map((record) => record.file))
      .catch(() => []);
    for (const file of previous) {
      // Only plain names: a manifest is data, and never a reason to delete outside the out dir.
      if (typeof file === 'string' && file === path.basename(file) && !file.startsWith('.') && !files.includes(file) && file !== 'manifest.json') {
        await rm(path.join(this.dir, file), { force: true });
      }
    }
    for (const name of files) {
      await chmod(this.staged(name), name === 'init' || name === 'app' ? 0o755 : 0o644);
      await rename(this.staged(name), path.join(this.dir, name));
    }
    const temp = this.staged('manifest.json');
    await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
    await rename(temp, path.join(this.dir, 'manifest.json'));
    await this.discard();
  }

  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
