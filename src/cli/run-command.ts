import type { Command } from 'commander';
import { DEFAULT_INSTANCE_TYPES, DEFAULT_OUT_DIR, runAws, type RunAwsResult } from '../index.js';
import { bootExitCode } from './boot-command.js';
import { collect, globalFlags, positiveInteger, positiveNumber, type CommandContext } from './context.js';
import { formatSeconds, outputMode } from './output.js';
import { ProgressView } from './progress-view.js';

interface RunAwsFlags {
  region?: string;
  profile?: string;
  instanceType?: string;
  subnet?: string;
  securityGroup?: string[];
  port?: number[];
  expect?: string;
  expectCount?: number;
  expectAnywhere?: boolean;
  timeout?: number;
  keep?: boolean;
  env?: string[];
  envFile?: string[];
  secret?: string[];
  quiet?: boolean;
}

function summary(result: RunAwsResult, expect?: string): string {
  const where = `${result.instanceId} in ${result.region}${result.publicIp ? ` at ${result.publicIp}` : ''}`;
  const after = `after ${formatSeconds(result.durationMs)}`;
  const fate = result.kept ? `; ${result.instanceId} keeps running (terminate it with \`aws ec2 terminate-instances --instance-ids ${result.instanceId}\`)` : `; ${result.instanceId} terminated`;
  switch (result.outcome) {
    case 'expected':
      return `✔ /${expect}/ seen on ${where} ${after}${fate}`;
    case 'exited':
      return result.exitSignal !== undefined
        ? `✖ the program on ${where} was killed by signal ${result.exitSignal} ${after}${fate}`
        : `${result.exitStatus === 0 ? '✔' : '✖'} the program on ${where} exited with status ${result.exitStatus} ${after}${fate}`;
    case 'powered-off':
      return `✔ ${where} powered off ${after}${fate}`;
  }
}

/** `gopid1 run aws [dir | ami-id]`: one EC2 instance of a pushed build, its console streamed like `boot`'s. */
export function registerRun(program: Command, context: CommandContext): void {
  const run = program.command('run').description('launch a pushed machine in a cloud and stream its console');
  run
    .command('aws')
    .description('launch one EC2 instance of a pushed build (or an AMI), stream its serial console with the same --expect and exit statuses as boot, and terminate it at the end, on Ctrl-C or timeout')
    .argument('[target]', `out dir pushed with \`gopid1 push aws\`, or an AMI id (default: ${DEFAULT_OUT_DIR})`)
    .option('--region <name>', 'AWS region (default: AWS_REGION, else the profile\'s)')
    .option('--profile <name>', 'profile of ~/.aws/config and ~/.aws/credentials')
    .option('--instance-type <type>', `instance type (default: a small Nitro type of the AMI's architecture, ${DEFAULT_INSTANCE_TYPES.x86_64} for x86_64, ${DEFAULT_INSTANCE_TYPES.arm64} for arm64)`)
    .option('--subnet <id>', 'subnet to launch in (default: the default VPC\'s)')
    .option('--security-group <id>', 'security group for the instance (repeatable; default: the VPC\'s default, or one for --port)', collect)
    .option('-p, --port <n>', 'open this TCP port to the world in a security group made for the run, deleted after it (repeatable)', (value: string, previous: number[] = []) => [...previous, positiveInteger('--port')(value)])
    .option('-e, --expect <regex>', 'exit 0 and terminate once a console line matches')
    .option('--expect-count <n>', 'wait for the n-th matching line', positiveInteger('--expect-count'))
    .option('--expect-anywhere', 'match --expect against every console line (firmware, GRUB, kernel, the init), not only the program\'s')
    .option('-t, --timeout <seconds>', 'give up and terminate after this long (default: 600)', positiveNumber('--timeout'))
    .option('--keep', 'leave the instance running at the end')
    .option('--env <KEY=VALUE>', 'environment for the program, as the instance\'s user-data (read through IMDSv2 by the supervising init of a --format aws build; repeatable)', collect)
    .option('--env-file <file>', 'KEY=VALUE lines for the program\'s environment, as docker run --env-file reads them (repeatable)', collect)
    .option('--secret <NAME=FILE>', 'the file becomes /run/secrets/NAME in the machine, through the user-data (mode 0400, owned by the program\'s user; repeatable)', collect)
    .option('-q, --quiet', 'do not echo the console')
    .action(async (target: string | undefined, flags: RunAwsFlags, command: Command) => {
      const global = globalFlags(command);
      const mode = outputMode(global);
      const view = new ProgressView(mode, global.verbose ?? false);
      const result = await runAws({
        ...(target !== undefined ? { target } : {}),
        ...(flags.region !== undefined ? { region: flags.region } : {}),
        ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
        ...(flags.instanceType !== undefined ? { instanceType: flags.instanceType } : {}),
        ...(flags.subnet !== undefined ? { subnetId: flags.subnet } : {}),
        ...(flags.securityGroup ? { securityGroupIds: flags.securityGroup } : {}),
        ...(flags.port ? { ports: flags.port } : {}),
        ...(flags.expect !== undefined ? { expect: flags.expect } : {}),
        ...(flags.expectCount !== undefined ? { expectCount: flags.expectCount } : {}),
        ...(flags.expectAnywhere ? { expectAnywhere: true } : {}),
        ...(flags.timeout !== undefined ? { timeoutSeconds: flags.timeout } : {}),
        ...(flags.keep ? { keep: true } : {}),
        ...(flags.env ? { env: flags.env } : {}),
        ...(flags.envFile ? { envFiles: flags.envFile } : {}),
        ...(flags.secret ? { secrets: flags.secret } : {}),
        ...(mode !== 'json' && !flags.quiet ? { onConsole: (line: string) => process.stdout.write(`${line}\n`) } : {}),
        onProgress: view.onEvent,
        signal: context.signal,
      }).finally(() => view.stop());
      if (mode === 'json') process.stdout.write(`${JSON.stringify({ ok: true, ...result }, null, 2)}\n`);
      else process.stderr.write(`${summary(result, flags.expect)}\n`);
      context.setExitCode(bootExitCode(result));
    });
}
