import type { Command } from 'commander';
import { DEFAULT_OUT_DIR, pushAws, type PushAwsResult } from '../index.js';
import type { CommandContext } from './context.js';
import { formatBytes, formatSeconds } from './output.js';
import { withProgress } from './progress-view.js';

interface PushAwsFlags {
  region?: string;
  profile?: string;
  copyToRegions?: string;
  public?: boolean;
}

function summary(result: PushAwsResult): string {
  const copies = result.copies.map((copy) => `\n  copied to ${copy.region}: ${copy.imageId}`).join('');
  if (result.existing) return `✔ ${result.imageId} in ${result.region} holds this build already (snapshot ${result.snapshotId}): nothing sent${copies}`;
  const sent = result.blocks > 0 ? `${result.blocks} blocks, ${formatBytes(result.uploadedBytes)} bytes sent` : 'its completed snapshot found: nothing sent';
  return `✔ ${result.imageId} in ${result.region} (snapshot ${result.snapshotId}; ${sent}) in ${formatSeconds(result.seconds * 1000)}${copies}`;
}

/** `gopid1 push aws [dir]`: the out dir's aws disk as an AMI. */
export function registerPush(program: Command, context: CommandContext): void {
  const push = program.command('push').description('upload a built machine to a cloud');
  push
    .command('aws')
    .description('upload the out dir\'s aws disk as an EBS snapshot through the EBS direct APIs (only blocks holding data), and register it as an AMI; pushing the same build again uploads nothing')
    .argument('[dir]', `out dir of \`gopid1 build --format aws\` (default: ${DEFAULT_OUT_DIR})`)
    .option('--region <name>', 'AWS region (default: AWS_REGION, else the profile\'s)')
    .option('--profile <name>', 'profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, else default)')
    .option('--copy-to-regions <list>', 'also copy the AMI to these regions, comma-separated')
    .option('--public', 'let every AWS account launch the AMI (default: only yours)')
    .action(async (dir: string | undefined, flags: PushAwsFlags, command: Command) => {
      const copyToRegions = flags.copyToRegions?.split(',').map((region) => region.trim()).filter(Boolean);
      const { result, mode } = await withProgress(command, (onProgress) =>
        pushAws({
          ...(dir !== undefined ? { dir } : {}),
          ...(flags.region !== undefined ? { region: flags.region } : {}),
          ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
          ...(copyToRegions ? { copyToRegions } : {}),
          ...(flags.public ? { public: true } : {}),
          onProgress,
          signal: context.signal,
        }),
      );
      if (mode === 'json') {
        const { imageId, snapshotId, region, uploadedBytes, blocks, seconds, existing, copies } = result;
        process.stdout.write(`${JSON.stringify({ ok: true, imageId, snapshotId, region, uploadedBytes, blocks, seconds, existing, copies }, null, 2)}\n`);
      } else process.stdout.write(`${summary(result)}\n`);
    });
}
