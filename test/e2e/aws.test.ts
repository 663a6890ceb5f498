import { EBSClient, GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { DescribeImagesCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Manifest, PushAwsResult } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';
import { faultyProxy, startMoto, type Moto } from '../helpers/moto.js';

const skip = e2ePrerequisites();
const BLOCK = 512 * 1024;
// The kernel of disks.test's cloud build (EFI, networking, the gcp and aws drivers, gzip initramfs): one configuration.
const SHARED_KERNEL = ['--format', 'gcp,aws', '--compress', 'gzip'];

/** The disk's blocks that hold data, read here independently of gopid1. */
function dataBlocks(disk: Buffer): Map<number, Buffer> {
  const blocks = new Map<number, Buffer>();
  for (let index = 0; index * BLOCK < disk.length; index++) {
    const block = Buffer.alloc(BLOCK);
    disk.copy(block, 0, index * BLOCK, Math.min(disk.length, (index + 1) * BLOCK));
    if (block.some((byte) => byte !== 0)) blocks.set(index, block);
  }
  return blocks;
}

type Pushed = Omit<PushAwsResult, 'copies'>;

describe('gopid1 push aws and run aws, against moto (an AWS API emulator in a container)', { skip }, () => {
  const out = tempDir('push');
  let moto: Moto;
  let first: Pushed;

  before(async () => {
    // Its image's build log (when it is built) goes elsewhere: the out dir must hold nothing but gopid1's build.
    moto = await startMoto(tempDir('moto'));
  });
  after(() => moto?.close());

  const clients = () => {
    const config = { endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    return { ebs: new EBSClient(config), ec2: new EC2Client(config) };
  };

  it('pushes the aws disk block by block, sending only blocks that hold data, and registers an AMI', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const build = await runCli(['build', hello, '--out', out, ...SHARED_KERNEL]);
    assert.equal(build.code, 0, build.stderr);
    const run = await runCli(['push', 'aws', out, '--json'], { env: moto.env });
    assert.equal(run.code, 0, run.stderr);
    first = JSON.parse(run.stdout) as Pushed;
    const disk = readFileSync(path.join(out, 'hello.aws.raw'));
    const local = dataBlocks(disk);
    assert.match(first.imageId, /^ami-/);
    assert.match(first.snapshotId, /^snap-/);
    assert.equal(first.region, 'us-east-1');
    assert.equal(first.existing, false);
    assert.equal(first.blocks, local.size, 'one PutSnapshotBlock per block that holds data');
    assert.equal(first.uploadedBytes, local.size * BLOCK);
    assert.ok(local.size < disk.length / BLOCK, 'blocks of zeros are not sent');

    const { ebs } = clients();
    const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: first.snapshotId }));
    // Number(): moto answers block indexes as strings.
    assert.deepEqual((listed.Blocks ?? []).map((block) => Number(block.BlockIndex)).sort((a, b) => a - b), [...local.keys()]);
    for (const block of listed.Blocks ?? []) {
      const index = Number(block.BlockIndex);
      const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: first.snapshotId, BlockIndex: index, BlockToken: block.BlockToken }));
      const data = Buffer.from((await got.BlockData?.transformToByteArray()) ?? []);
      assert.ok(data.equals(local.get(index) ?? Buffer.alloc(0)), `block ${index} read back differs from the disk`);
      assert.equal(got.Checksum, createHash('sha256').update(data).digest('base64'));
    }
  });

  it('registered the AMI from that snapshot as EC2 wants it: x86_64, ENA, UEFI preferred, /dev/xvda, IMDSv2, tagged', async () => {
    const requests = await moto.requests();
    const register = requests.map((request) => new URLSearchParams(request.bodyEncoded ? Buffer.from(request.body, 'base64').toString() : request.body)).find((form) => form.get('Action') === 'RegisterImage');
    assert.ok(register, 'a RegisterImage request was sent');
    assert.equal(register.get('Architecture'), 'x86_64');
    assert.equal(register.get('EnaSupport'), 'true');
    assert.equal(register.get('BootMode'), 'uefi-preferred');
    assert.equal(register.get('ImdsSupport'), 'v2.0');
    assert.equal(register.get('RootDeviceName'), '/dev/xvda');
    assert.equal(register.get('VirtualizationType'), 'hvm');
    assert.equal(register.get('BlockDeviceMapping.1.DeviceName'), '/dev/xvda');
    assert.equal(register.get('BlockDeviceMapping.1.Ebs.SnapshotId'), first.snapshotId);
    assert.match(register.get('Name') ?? '', /^gopid1-hello-[0-9a-f]{12}$/);
    const puts = requests.filter((request) => request.method === 'PUT' && /\/snapshots\/snap-[^/]+\/blocks\/\d+/.test(request.url));
    assert.equal(puts.length, first.blocks);
    assert.ok(puts.every((request) => /x-amz-checksum-algorithm/i.test(Object.keys(request.headers).join(' '))), 'each block carries its SHA-256 checksum');
    const complete = requests.find((request) => request.method === 'POST' && /\/snapshots\/completion\/snap-/.test(request.url));
    assert.ok(complete, 'CompleteSnapshot was sent');
    assert.equal(Object.entries(complete.headers).find(([name]) => name.toLowerCase() === 'x-amz-changedblockscount')?.[1], String(first.blocks));

    const manifestSha = createHash('sha256').update(readFileSync(path.join(out, 'manifest.json'))).digest('hex');
    const { ec2 } = clients();
    const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [first.imageId] }));
    const tags = Object.fromEntries((images.Images?.[0]?.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    assert.equal(tags['gopid1:manifest-sha256'], manifestSha);
    assert.match(tags['gopid1:version'] ?? '', /^\d+\.\d+\.\d+/);
    assert.equal(tags.Name, 'hello');
  });

  it('pushing the same build again finds its AMI and sends nothing', async () => {
    const before = (await moto.requests()).length;
    const run = await runCli(['push', 'aws', out, '--json'], { env: moto.env });
    assert.equal(run.code, 0, run.stderr);
    const again = JSON.parse(run.stdout) as Pushed;
    assert.deepEqual([again.imageId, again.snapshotId, again.existing, again.blocks, again.uploadedBytes], [first.imageId, first.snapshotId, true, 0, 0]);
    const sent = (await moto.requests()).slice(before);
    assert.ok(!sent.some((request) => request.method === 'PUT' || /StartSnapshot|RegisterImage/.test(request.body) || /\/snapshots$/.test(request.url)), 'no snapshot, block or image was sent');
    const human = await runCli(['push', 'aws', out], { env: moto.env });
    assert.match(human.stdout, new RegExp(`✔ ${first.imageId} in us-east-1 holds this build already .*nothing sent`));
  });

  it('without credentials says where it looked; without an aws disk says how to build one', async () => {
    const home = tempDir('push-home');
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...endpoint } = moto.env;
    const env = { ...endpoint, HOME: home, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'), AWS_CONFIG_FILE: path.join(home, 'none') };
    let run = await runCli(['push', 'aws', out], { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no AWS credentials found while .* \[CLOUD_CREDENTIALS\]/);
    assert.match(run.stderr, /AWS_ACCESS_KEY_ID .*~\/\.aws\/credentials/s);

    const other = tempDir('push-no-aws');
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest & { plan: { outputs: string[] } };
    delete manifest.artifacts.aws;
    manifest.plan.outputs = ['gcp'];
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'manifest.json'), JSON.stringify(manifest));
    run = await runCli(['push', 'aws', other], { env: moto.env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /hello in .* was built without the aws format \[BAD_INPUT\]/);
    assert.match(run.stderr, /--format aws/);
  });

  it('--copy-to-regions copies the AMI once, tagged, and --public lets every account launch each', async () => {
    const before = (await moto.requests()).length;
    const run = await runCli(['push', 'aws', out, '--copy-to-regions', 'us-west-2', '--public', '--json'], { env: moto.env });
    assert.equal(run.code, 0, run.stderr);
    const pushed = JSON.parse(run.stdout) as PushAwsResult;
    assert.equal(pushed.imageId, first.imageId);
    assert.equal(pushed.copies.length, 1);
    assert.equal(pushed.copies[0]?.region, 'us-west-2');
    const copy = pushed.copies[0]?.imageId ?? '';
    const west = new EC2Client({ endpoint: moto.url, region: 'us-west-2', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const tags = Object.fromEntries(((await west.send(new DescribeImagesCommand({ ImageIds: [copy] }))).Images?.[0]?.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    assert.equal(tags['gopid1:manifest-sha256'], createHash('sha256').update(readFileSync(path.join(out, 'manifest.json'))).digest('hex'));
    const sent = (await moto.requests()).slice(before).map(form);
    assert.deepEqual(sent.filter((params) => params.get('Action') === 'ModifyImageAttribute').map((params) => [params.get('ImageId'), params.get('LaunchPermission.Add.1.Group')]), [[first.imageId, 'all'], [copy, 'all']]);
    const again = JSON.parse((await runCli(['push', 'aws', out, '--copy-to-regions', 'us-west-2', '--json'], { env: moto.env })).stdout) as PushAwsResult;
    assert.deepEqual(again.copies, [{ region: 'us-west-2', imageId: copy }], 'the copy is found, not made again');
  });

  const form = (request: { body: string; bodyEncoded: boolean }) => new URLSearchParams(request.bodyEncoded ? Buffer.from(request.body, 'base64').toString() : request.body);

  it('`run aws` launches the pushed AMI on a Nitro type, streams the console until --expect, and terminates it', async () => {
    const before = (await moto.requests()).length;
    // moto boots nothing: its console output is a canned Linux log, which is what --expect looks for here.
    const run = await runCli(['run', 'aws', out, '--expect', 'Enabling fast FPU', '--expect-anywhere', '--timeout', '60', '--json'], { env: moto.env });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { outcome: string; instanceId: string; imageId: string; kept: boolean };
    assert.deepEqual([result.outcome, result.imageId, result.kept], ['expected', first.imageId, false]);
    const sent = (await moto.requests()).slice(before).map(form);
    const launch = sent.find((params) => params.get('Action') === 'RunInstances');
    assert.equal(launch?.get('ImageId'), first.imageId);
    assert.equal(launch?.get('InstanceType'), 't3.micro');
    assert.equal(launch?.get('InstanceInitiatedShutdownBehavior'), 'terminate');
    assert.equal(launch?.get('MetadataOptions.HttpTokens'), 'required');
    assert.ok(!sent.some((params) => params.get('Action') === 'CreateSecurityGroup'), 'no port asked for, none opened');
    const terminate = sent.find((params) => params.get('Action') === 'TerminateInstances');
    assert.equal(terminate?.get('InstanceId.1'), result.instanceId);
  });

  it('`run aws --port` opens the port in a group of its own, and a timeout still terminates the instance and deletes the group', async () => {
    const before = (await moto.requests()).length;
    const run = await runCli(['run', 'aws', first.imageId, '--port', '8080', '--expect', 'never printed', '--timeout', '4'], { env: moto.env });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /did not print \/never printed\/ within 4 s \[BOOT_TIMEOUT\]/);
    const sent = (await moto.requests()).slice(before).map(form);
    const ingress = sent.find((params) => params.get('Action') === 'AuthorizeSecurityGroupIngress');
    assert.equal(ingress?.get('IpPermissions.1.FromPort'), '8080');
    const group = ingress?.get('GroupId');
    assert.equal(sent.find((params) => params.get('Action') === 'RunInstances')?.get('SecurityGroupId.1'), group);
    assert.ok(sent.some((params) => params.get('Action') === 'TerminateInstances'));
    assert.equal(sent.find((params) => params.get('Action') === 'DeleteSecurityGroup')?.get('GroupId'), group);
  });

  it('`run aws --env --secret` hands them to the instance as gopid1\'s user-data, and refuses a build that does not read it', async () => {
    const files = tempDir('run-user-data');
    writeFileSync(path.join(files, 'token'), 's3cret\n');
    const before = (await moto.requests()).length;
    const run = await runCli(['run', 'aws', first.imageId, '--env', 'LOG=debug', '--secret', `api-token=${path.join(files, 'token')}`, '--expect', 'Enabling fast FPU', '--expect-anywhere', '--timeout', '60'], { env: moto.env });
    assert.equal(run.code, 0, run.stderr);
    const launch = (await moto.requests()).slice(before).map(form).find((params) => params.get('Action') === 'RunInstances');
    assert.equal(Buffer.from(launch?.get('UserData') ?? '', 'base64').toString(), `#gopid1\nLOG=debug\nsecret:api-token=${Buffer.from('s3cret\n').toString('base64')}\n`);
    const refused = await runCli(['run', 'aws', out, '--env', 'LOG=debug'], { env: moto.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /and hello does not read it \[BAD_INPUT\]/);
    assert.match(refused.stderr, /--format aws --init supervise/);
  });

  it('`run aws` of an out dir that was never pushed says to push it', async () => {
    const other = tempDir('run-unpushed');
    writeFileSync(path.join(other, 'manifest.json'), '{"name":"never pushed"}');
    const run = await runCli(['run', 'aws', other], { env: moto.env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /has no AMI in this region .*\[BAD_INPUT\]/);
    assert.match(run.stderr, /gopid1 push aws /);
  });

  it('Ctrl-C during the upload deletes the unfinished snapshot and exits 130', async () => {
    // A disk full of data (128 MiB, 256 blocks): long enough to interrupt on its way to moto.
    const big = tempDir('push-big');
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    manifest.name = 'interrupted';
    writeFileSync(path.join(big, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(path.join(big, manifest.artifacts.aws?.file ?? 'hello.aws.raw'), randomBytes(128 * 1024 * 1024));
    let interrupted = false;
    const run = await runCli(['push', 'aws', big], {
      env: moto.env,
      processGroup: true,
      onOutput: (text, child) => {
        if (!interrupted && /uploading \S+ to snap-/.test(text) && child.pid) {
          interrupted = true;
          process.kill(-child.pid, 'SIGINT');
        }
      },
    });
    assert.ok(interrupted, `the upload was never seen under way:\n${run.stderr}`);
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /interrupted during the snapshot upload \[INTERRUPTED\][\s\S]*→ The unfinished snapshot snap-\w+ was deleted; run the push again/);
    const snapshotId = /The unfinished snapshot (snap-\w+) was deleted/.exec(run.stderr)?.[1] ?? '';
    const { ec2 } = clients();
    const left = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    assert.ok(!(left.Snapshots ?? []).some((snapshot) => snapshot.SnapshotId === snapshotId), `${snapshotId} is still there`);
  });

  /** The pushed build under another name: another manifest, so another snapshot and AMI. */
  const renamed = (name: string): string => {
    const dir = tempDir(`push-${name}`);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    manifest.name = name;
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    copyFileSync(path.join(out, 'hello.aws.raw'), path.join(dir, 'hello.aws.raw'));
    return dir;
  };
  const isBlock = (method: string, url: string) => method === 'PUT' && /\/snapshots\/[^/]+\/blocks\/\d+$/.test(url);

  it('a throttled PutSnapshotBlock is sent again after a backoff: every block throttled once, the snapshot is whole', async () => {
    const seen = new Set<string>();
    const proxy = await faultyProxy(moto.url, (method, url) => {
      if (!isBlock(method, url) || seen.has(url)) return 'pass';
      seen.add(url);
      return { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' };
    });
    try {
      const run = await runCli(['push', 'aws', renamed('throttled'), '--json'], { env: { ...moto.env, AWS_ENDPOINT_URL_EBS: proxy.url } });
      assert.equal(run.code, 0, run.stderr);
      const pushed = JSON.parse(run.stdout) as Pushed;
      assert.equal(proxy.faults(), pushed.blocks, 'each block was throttled once');
      const { ebs } = clients();
      const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: pushed.snapshotId }));
      assert.equal(listed.Blocks?.length, first.blocks, 'every block arrived in the end');
    } finally {
      await proxy.close();
    }
  });

  it('a PutSnapshotBlock that keeps failing is retried, then the push fails naming the snapshot and what was sent, and deletes it', async () => {
    const proxy = await faultyProxy(moto.url, (method, url) => (isBlock(method, url) ? { status: 500, type: 'InternalServerException', message: 'We encountered an internal error' } : 'pass'));
    try {
      const run = await runCli(['push', 'aws', renamed('failing')], { env: { ...moto.env, AWS_ENDPOINT_URL_EBS: proxy.url } });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /AWS failed while uploading hello\.aws\.raw to snapshot snap-\w+ \(0 blocks sent\): InternalServerException: We encountered an internal error \[CLOUD_FAILED\]/);
      assert.match(run.stderr, /retried with backoff/);
      assert.ok(proxy.faults() > first.blocks, `${proxy.faults()} failed requests: the blocks were sent again`);
      const snapshotId = /to snapshot (snap-\w+)/.exec(run.stderr)?.[1] ?? '';
      const { ec2 } = clients();
      const left = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
      assert.ok(!(left.Snapshots ?? []).some((snapshot) => snapshot.SnapshotId === snapshotId), `${snapshotId} is still there`);
    } finally {
      await proxy.close();
    }
  });

  it('leaves no container behind', () => {
    moto.close();
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
