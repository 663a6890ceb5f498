import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { sha256 } from '../artifacts/files.js';
import { Gopid1Error, throwIfAborted } from '../errors.js';
import { readManifest } from '../artifacts/manifest.js';
import { DEFAULT_OUT_DIR } from '../plan/vocabulary.js';
import { silent, type Reporter } from '../progress.js';
import { ConsoleWatcher, toRegExp, type ConsoleVerdict } from '../qemu/console.js';
import { awsClients, awsFailure, type AwsClientOptions } from './clients.js';
import { findImage, MANIFEST_TAG } from './push-ami.js';
import { runtimeConfig, userDataText, type RuntimeConfigOptions } from '../qemu/run-config.js';

export interface RunAwsOptions extends AwsClientOptions, RuntimeConfigOptions {
  /** An out dir whose build was pushed (its AMI is found by the manifest's tag), or an AMI id. Default dist. */
  target?: string;
  /** Default: a small Nitro type of the AMI's architecture (DEFAULT_INSTANCE_TYPES: NVMe root volume, ENA, UEFI). */
  instanceType?: string;
  subnetId?: string;
  /** Security groups to put the instance in; default: a group of its own when ports are opened, else the VPC's default. */
  securityGroupIds?: string[];
  /** TCP ports to open to the world (a security group made for this run, deleted after it). */
  ports?: number[];
  expect?: string;
  expectCount?: number;
  /** Match `expect` against every console line, not only the program's. */
  expectAnywhere?: boolean;
  /** Give up (and terminate) after this long; default 600 s. */
  timeoutSeconds?: number;
  /** Leave the instance running at the end. */
  keep?: boolean;
  /** Seconds between console reads (EC2 updates the console output every few seconds); default 5. */
  pollSeconds?: number;
  onConsole?: (line: string) => void;
  onProgress?: Reporter;
  signal?: AbortSignal;
}

export interface RunAwsResult {
  /** As `boot`: expected, exited (status or signal), powered-off. */
  outcome: 'expected' | 'exited' | 'powered-off';
  exitStatus?: number;
  exitSignal?: number;
  instanceId: string;
  imageId: string;
  region: string;
  publicIp?: string;
  /** The instance is still there (--keep). */
  kept: boolean;
  durationMs: number;
}

/** The smallest Nitro types that boot gopid1's disks, per EC2 architecture: Intel (x86_64) and Graviton2 (arm64). */
export const DEFAULT_INSTANCE_TYPES: { readonly [architecture in 'x86_64' | 'arm64']: string } = { x86_64: 't3.micro', arm64: 't4g.micro' };
const FINISHED_STATES = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** EC2 takes at most 16 KiB of user-data. */
const MAX_USER_DATA_BYTES = 16 * 1024;

/**
 * The instance's user-data: the run-time configuration (--env, --env-file, --secret) in gopid1's format, which the
 * supervising init of an aws build reads through IMDSv2 (init/metadata.go). Checked before any request.
 */
async function userDataOf(options: RunAwsOptions): Promise<string | undefined> {
  const config = await runtimeConfig(options);
  if (!config) return undefined;
  const target = options.target ?? DEFAULT_OUT_DIR;
  const manifest = /^ami-/.test(target) ? undefined : await readManifest(target).catch(() => undefined);
  if (manifest && !(manifest.init.mode === 'supervise' && manifest.init.metadata === 'aws')) {
    throw new Gopid1Error('BAD_INPUT', `--env, --env-file and --secret reach the program as instance user-data, and ${manifest.name} does not read it`, {
      hint: 'Rebuild it with the supervising init for EC2: gopid1 build <app> --format aws --init supervise, then push it again.',
    });
  }
  const text = await userDataText(config);
  if (Buffer.byteLength(text) > MAX_USER_DATA_BYTES) {
    throw new Gopid1Error('BAD_INPUT', `the environment and secrets make ${Buffer.byteLength(text)} bytes of user-data, more than the ${MAX_USER_DATA_BYTES} EC2 takes`, { hint: 'Keep large data out of the environment: put it on a disk, or fetch it from a secrets service at start.' });
  }
  return text;
}

/** The AMI to launch, given or the one `push aws` registered for the out dir's build, and its architecture. */
async function imageFor(ec2: EC2Client, target: string): Promise<{ imageId: string; architecture: string | undefined }> {
  if (/^ami-[0-9a-f]+$/.test(target)) {
    const described = await ec2.send(new DescribeImagesCommand({ ImageIds: [target] }));
    return { imageId: target, architecture: described.Images?.[0]?.Architecture };
  }
  const manifest = await readFile(path.join(target, 'manifest.json')).catch(() => undefined);
  if (!manifest) throw new Gopid1Error('BAD_INPUT', `${target} is neither an AMI id nor an out dir with a manifest.json`, { hint: 'Pass ami-… or the out dir you pushed with `gopid1 push aws <dir>`.' });
  const name = (() => {
    try {
      return (JSON.parse(manifest.toString()) as { name?: unknown }).name;
    } catch {
      return undefined;
    }
  })();
  const found = await findImage(ec2, sha256(manifest), typeof name === 'string' ? name : undefined);
  if (!found) throw new Gopid1Error('BAD_INPUT', `the build in ${target} has no AMI in this region (none tagged ${MANIFEST_TAG}=${sha256(manifest).slice(0, 12)}…)`, { hint: `Push it first: gopid1 push aws ${target}` });
  return { imageId: found.imageId, architecture: found.architecture };
}

/** The instance type asked for, or the default one of the AMI's architecture (x86_64 when EC2 does not say). */
export function instanceTypeFor(asked: string | undefined, architecture: string | undefined): string {
  return asked ?? (architecture === 'arm64' ? DEFAULT_INSTANCE_TYPES.arm64 : DEFAULT_INSTANCE_TYPES.x86_64);
}

/** The text a console read adds to the last: EC2 returns the latest output whole, so only what follows the last read is new. */
export function consoleDelta(previous: string, current: string): string {
  if (current.startsWith(previous)) return current.slice(previous.length);
  // The window moved (the latest 64 KiB): continue after the last part of the previous read that is still there.
  const anchor = previous.slice(-1024);
  const at = anchor === '' ? -1 : current.lastIndexOf(anchor);
  return at >= 0 ? current.slice(at + anchor.length) : current;
}

async function openPorts(ec2: EC2Client, options: RunAwsOptions, name: string): Promise<string> {
  const vpcId = options.subnetId
    ? (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [options.subnetId] }))).Subnets?.[0]?.VpcId
    : (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs?.[0]?.VpcId;
  if (!vpcId) throw new Gopid1Error('BAD_INPUT', 'no VPC to open ports in: the region has no default VPC', { hint: 'Pass --subnet <subnet-id> of the VPC to launch in.' });
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: 'gopid1 run aws: the ports asked for', VpcId: vpcId }));
  if (!group.GroupId) throw new Gopid1Error('CLOUD_FAILED', 'CreateSecurityGroup answered without a group id', { hint: 'Try again.' });
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: group.GroupId,
      IpPermissions: (options.ports ?? []).map((port) => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] })),
    }),
  );
  return group.GroupId;
}

async function launch(ec2: EC2Client, imageId: string, instanceType: string, options: RunAwsOptions, groups: string[], userData: string | undefined): Promise<string> {
  const launched = await ec2.send(
    new RunInstancesCommand({
      ImageId: imageId,
      InstanceType: instanceType as never,
      MinCount: 1,
      MaxCount: 1,
      ...(options.subnetId !== undefined ? { SubnetId: options.subnetId } : {}),
      ...(groups.length > 0 ? { SecurityGroupIds: groups } : {}),
      // Powering off (the supervising init, or a program that ends) ends the instance and its bill.
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required' },
      ...(userData !== undefined ? { UserData: Buffer.from(userData).toString('base64') } : {}),
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: `gopid1 ${imageId}` }, { Key: 'gopid1:run', Value: 'true' }] }],
    }),
  );
  const instanceId = launched.Instances?.[0]?.InstanceId;
  if (!instanceId) throw new Gopid1Error('CLOUD_FAILED', 'RunInstances answered without an instance id', { hint: 'Try again.' });
  return instanceId;
}

function outcomeOf(verdict: ConsoleVerdict): Pick<RunAwsResult, 'outcome' | 'exitStatus' | 'exitSignal'> {
  switch (verdict.kind) {
    case 'expected':
      return { outcome: 'expected' };
    case 'init-exited':
    case 'app-exited':
      return { outcome: 'exited', ...(verdict.status !== undefined ? { exitStatus: verdict.status } : {}), ...(verdict.signal !== undefined ? { exitSignal: verdict.signal } : {}) };
    case 'panic':
      throw new Gopid1Error('KERNEL_PANIC', `the instance's kernel panicked: ${verdict.message}`, { hint: 'Read the console above; boot the same build locally with `gopid1 boot --format aws` to reproduce it.' });
    case 'watchdog':
      throw new Gopid1Error('WATCHDOG_RESET', 'the instance\'s watchdog was not fed in time: it resets the instance', { hint: 'The supervising init stopped feeding it (hung, or the program stayed unhealthy): read the console above.' });
  }
}

/** Reads the console until a verdict, the instance ending, or the deadline. */
async function watch(ec2: EC2Client, instanceId: string, options: RunAwsOptions, report: Reporter, started: number): Promise<{ result: Pick<RunAwsResult, 'outcome' | 'exitStatus' | 'exitSignal'>; instance: Instance | undefined }> {
  const watcher = new ConsoleWatcher({ ...(options.expect !== undefined ? { expect: toRegExp(options.expect) } : {}), ...(options.expectCount !== undefined ? { expectCount: options.expectCount } : {}), expectAnywhere: options.expectAnywhere ?? false, bootloader: 'grub', supervised: true });
  const deadline = started + (options.timeoutSeconds ?? 600) * 1000;
  let seen = '';
  let partial = '';
  let instance: Instance | undefined;
  for (;;) {
    throwIfAborted(options.signal, 'run aws');
    instance = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations?.[0]?.Instances?.[0];
    if (instance?.PublicIpAddress) report({ kind: 'count', stage: 'aws', text: `${instanceId} ${instance.State?.Name ?? ''} at ${instance.PublicIpAddress}` });
    const output = (await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }))).Output;
    const text = output ? Buffer.from(output, 'base64').toString('utf8') : '';
    const lines = (partial + consoleDelta(seen, text)).split(/\r?\n/);
    seen = text;
    partial = lines.pop() ?? '';
    for (const line of lines) {
      options.onConsole?.(line);
      const verdict = watcher.feed(line, Date.now() - started);
      if (verdict) return { result: outcomeOf(verdict), instance };
    }
    if (FINISHED_STATES.has(instance?.State?.Name ?? '')) return { result: { outcome: 'powered-off' }, instance };
    if (Date.now() >= deadline) {
      throw new Gopid1Error('BOOT_TIMEOUT', `${instanceId} did not ${options.expect !== undefined ? `print /${options.expect}/` : 'finish'} within ${options.timeoutSeconds ?? 600} s`, {
        hint: 'EC2 updates the console output every few seconds and only on Nitro types with --latest; raise --timeout, or read it with `aws ec2 get-console-output --latest`.',
      });
    }
    // An abort ends the wait early; the loop's first line then reports the interruption.
    await delay((options.pollSeconds ?? 5) * 1000, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
  }
}

/**
 * Launches one instance of a pushed build (or an AMI), streams its serial console with the same --expect and exit
 * statuses as `boot`, and terminates it at the end, on Ctrl-C or on timeout (unless `keep`); a security group made for
 * its ports is deleted after it.
 */
export async function runAws(options: RunAwsOptions = {}): Promise<RunAwsResult> {
  const started = Date.now();
  const report = options.onProgress ?? silent;
  const userData = await userDataOf(options);
  const { ec2, region: resolveRegion } = awsClients(options);
  const step = <T>(what: string, action: () => Promise<T>): Promise<T> =>
    action().catch((error: unknown) => {
      throw awsFailure(error, what);
    });
  const region = await step('finding the region', resolveRegion);
  const { imageId, architecture } = await step('finding the AMI', () => imageFor(ec2, options.target ?? DEFAULT_OUT_DIR));
  const instanceType = instanceTypeFor(options.instanceType, architecture);
  const ownGroup = options.ports?.length && !options.securityGroupIds?.length ? await step('opening the ports', () => openPorts(ec2, options, `gopid1-${started}`)) : undefined;
  let instanceId: string | undefined;
  let kept = false;
  try {
    instanceId = await step('launching the instance', () => launch(ec2, imageId, instanceType, options, ownGroup ? [ownGroup] : (options.securityGroupIds ?? []), userData));
    report({ kind: 'step', stage: 'aws', text: `${instanceId} (${instanceType}) launched from ${imageId} in ${region}` });
    const id = instanceId;
    kept = options.keep ?? false;
    const { result, instance } = await step(`watching ${id}`, () => watch(ec2, id, options, report, started));
    return { ...result, instanceId: id, imageId, region, ...(instance?.PublicIpAddress ? { publicIp: instance.PublicIpAddress } : {}), kept, durationMs: Date.now() - started };
  } finally {
    await cleanUp(ec2, instanceId, kept ? undefined : ownGroup, kept, report);
  }
}

async function cleanUp(ec2: EC2Client, instanceId: string | undefined, group: string | undefined, keep: boolean, report: Reporter): Promise<void> {
  if (instanceId && !keep) {
    report({ kind: 'step', stage: 'aws', text: `terminating ${instanceId}` });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })).catch(() => undefined);
    if (group) await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 600 }, { InstanceIds: [instanceId] }).catch(() => undefined);
  }
  if (group) await ec2.send(new DeleteSecurityGroupCommand({ GroupId: group })).catch(() => undefined);
}
