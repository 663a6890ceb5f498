import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { BuildOptions } from './options.js';
import type { HostFacts } from './plan.js';

/**
 * What planBuild needs to know of this host: the CPUs, $SOURCE_DATE_EPOCH, and the time of the last git commit that
 * touched the app's directory (not the repository's HEAD: unrelated commits change nothing).
 */
export async function gatherHostFacts(options: Pick<BuildOptions, 'app'>): Promise<HostFacts> {
  const git = await execa('git', ['-C', path.resolve(options.app), 'log', '-1', '--format=%ct', '--', '.'], { reject: false });
  const commit = String(git.stdout).trim();
  const environmentEpoch = process.env.SOURCE_DATE_EPOCH;
  return {
    cpus: os.availableParallelism(),
    ...(environmentEpoch !== undefined ? { environmentEpoch } : {}),
    ...(git.exitCode === 0 && /^\d+$/.test(commit) ? { appCommitEpoch: Number(commit) } : {}),
  };
}
