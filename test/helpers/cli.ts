import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';

export const cliPath = path.join(packageRoot, 'build', 'src', 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the gopid1 CLI as a user would. `onStderr`/`onStdout` see output as it arrives (to send a signal at
 * the right moment); the promise settles when the process exits.
 */
export function runCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** Its own process group, as a shell gives a foreground job: then `process.kill(-child.pid, …)` is a terminal's Ctrl-C. */
    processGroup?: boolean;
    onOutput?: (text: string, child: ReturnType<typeof spawn>) => void;
  } = {},
): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? packageRoot,
    env: { ...process.env, CI: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onOutput?.(chunk.toString(), child);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onOutput?.(chunk.toString(), child);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
}
