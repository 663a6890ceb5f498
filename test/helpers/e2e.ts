import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';

/** In CI every prerequisite must be there: a missing one fails the run instead of skipping. */
const inCi = process.env.GOPID1_CI === '1';

function works(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * `false` when the Docker engine and QEMU are there; otherwise the reason to skip (locally) — in CI it throws.
 * End-to-end tests use the real engine and QEMU, never mocks.
 */
export function e2ePrerequisites(): false | string {
  const missing: string[] = [];
  if (!works('docker', ['info'])) missing.push('no Docker engine answers (run `make setup`)');
  if (!works('qemu-system-x86_64', ['--version'])) missing.push('qemu-system-x86_64 is not installed (run `make setup`)');
  if (missing.length === 0) return false;
  if (inCi) throw new Error(`end-to-end prerequisites missing in CI: ${missing.join('; ')}`);
  return missing.join('; ');
}

export const fixtures = path.join(packageRoot, 'test', 'fixtures');
export const hello = path.join(packageRoot, 'examples', 'hello');

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `gopid1-${prefix}-`));
}

/** Containers and volumes labelled gopid1 right now (checked with the docker CLI, not with gopid1's own code). */
export function leftovers(): { containers: string[]; volumes: string[] } {
  const list = (args: string[]): string[] => execFileSync('docker', args).toString().split('\n').filter(Boolean);
  return {
    containers: list(['ps', '-a', '--filter', 'label=gopid1', '--format', '{{.ID}} {{.Names}} {{.Status}}']),
    volumes: list(['volume', 'ls', '--filter', 'label=gopid1', '--format', '{{.Name}}']),
  };
}

/** The paths in an initramfs, decompressed by the host's own tools (zstd, xz, gzip) as its name says. */
export function listInitramfs(file: string): string[] {
  const decompress = file.endsWith('.zst') ? 'zstd -dc' : file.endsWith('.xz') ? 'xz -dc' : file.endsWith('.gz') ? 'gzip -dc' : 'cat';
  return execFileSync('sh', ['-c', `${decompress} '${file}' | cpio -t --quiet`]).toString().trim().split('\n');
}

/** Generous limits: the first build of a run compiles the kernel and the builder images. */
export const FIRST_BUILD_TIMEOUT_MS = 30 * 60_000;
export const BUILD_TIMEOUT_MS = 10 * 60_000;

/**
 * What the gopid1 processes `pids` left in the engine: containers and volumes carrying their `gopid1.pid`
 * label, and images `gopid1 compare` made for them. Other gopid1 runs on the same engine (another test
 * suite, a developer's build) are not counted.
 */
export function leftoversOf(pids: number[]): { containers: string[]; volumes: string[]; images: string[] } {
  const list = (args: string[]): string[] => execFileSync('docker', args).toString().split('\n').filter(Boolean);
  const result = { containers: [] as string[], volumes: [] as string[], images: [] as string[] };
  for (const pid of pids) {
    const label = `label=gopid1.pid=${pid}`;
    result.containers.push(...list(['ps', '-a', '--filter', 'label=gopid1', '--filter', label, '--format', '{{.ID}} {{.Names}} {{.Status}}']));
    result.volumes.push(...list(['volume', 'ls', '--filter', 'label=gopid1', '--filter', label, '--format', '{{.Name}}']));
    result.images.push(...list(['images', '-a', '--filter', 'label=gopid1.compare', '--filter', label, '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']));
  }
  return result;
}
