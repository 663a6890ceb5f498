import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { aggregateChecksum, blockChecksum, dataBlocks, EBS_BLOCK_BYTES, volumeGiB } from '../../src/aws/blocks.js';
import { awsFailure, regionName } from '../../src/aws/clients.js';
import { ec2Architecture, ec2BootMode, imageName, pushAws } from '../../src/aws/push-ami.js';
import { isGopid1Error } from '../../src/errors.js';
import { consoleDelta, instanceTypeFor } from '../../src/aws/run-instance.js';
import type { Manifest } from '../../src/index.js';

async function collect(file: string) {
  const blocks = [];
  for await (const block of dataBlocks(file)) blocks.push(block);
  return blocks;
}

describe('EBS blocks of a disk', () => {
  it('yields only the 512 KiB blocks holding data, the last one padded with zeros, each with its SHA-256', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-aws-'));
    const file = path.join(dir, 'disk.raw');
    const disk = Buffer.alloc(3 * EBS_BLOCK_BYTES + 1000);
    disk[10] = 1; // block 0
    disk[2 * EBS_BLOCK_BYTES + 5] = 2; // block 2
    disk[disk.length - 1] = 3; // block 3, short
    writeFileSync(file, disk);
    const blocks = await collect(file);
    assert.deepEqual(blocks.map((block) => block.index), [0, 2, 3]);
    assert.ok(blocks.every((block) => block.data.length === EBS_BLOCK_BYTES));
    assert.equal(blocks[2]?.data[999], 3);
    assert.equal(blocks[2]?.data[1000], 0);
    assert.equal(blocks[1]?.checksum, createHash('sha256').update(blocks[1]?.data ?? Buffer.alloc(0)).digest('base64'));
  });

  it('an empty or all-zero disk has no blocks to send', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-aws-'));
    writeFileSync(path.join(dir, 'zero.raw'), Buffer.alloc(2 * EBS_BLOCK_BYTES));
    assert.deepEqual(await collect(path.join(dir, 'zero.raw')), []);
  });

  it('aggregates the checksums LINEAR: SHA-256 over the digests in block order, whatever order they finished in', () => {
    const a = { index: 0, checksum: blockChecksum(Buffer.from('a')) };
    const b = { index: 7, checksum: blockChecksum(Buffer.from('b')) };
    const expected = createHash('sha256').update(Buffer.concat([Buffer.from(a.checksum, 'base64'), Buffer.from(b.checksum, 'base64')])).digest('base64');
    assert.equal(aggregateChecksum([b, a]), expected);
    assert.equal(aggregateChecksum([a, b]), expected);
  });

  it('sizes the volume in whole GiB, at least 1', () => {
    assert.equal(volumeGiB(7 * 2 ** 20), 1);
    assert.equal(volumeGiB(2 ** 30), 1);
    assert.equal(volumeGiB(2 ** 30 + 1), 2);
  });
});

describe('what gopid1 tells EC2, and what it tells the user when AWS fails', () => {
  it('names the AMI after the machine and the manifest, in the characters EC2 allows', () => {
    assert.equal(imageName('hello', 'ab'.repeat(32)), `gopid1-hello-${'ab'.repeat(6)}`);
    assert.match(imageName('my app: ünïcode', 'cd'.repeat(32)), /^gopid1-my app_ _n_code-cdcdcdcdcdcd$/);
  });

  it('asks for UEFI preferred for a disk that boots both ways', () => {
    const manifest = (firmware: string[]) => ({ artifacts: { aws: { firmware } } }) as unknown as Manifest;
    assert.equal(ec2BootMode(manifest(['bios', 'uefi'])), 'uefi-preferred');
    assert.equal(ec2BootMode(manifest(['uefi'])), 'uefi');
  });

  it('registers an arm64 build as an arm64 AMI and launches it on Graviton unless told otherwise', () => {
    const built = (arch?: string) => ({ plan: arch === undefined ? undefined : { arch }, artifacts: { aws: { firmware: ['uefi'] } } }) as unknown as Manifest;
    assert.equal(ec2Architecture(built('arm64')), 'arm64');
    assert.equal(ec2Architecture(built('amd64')), 'x86_64');
    assert.equal(ec2Architecture(built()), 'x86_64', 'a manifest older than plans is amd64');
    assert.equal(instanceTypeFor(undefined, 'arm64'), 't4g.micro');
    assert.equal(instanceTypeFor(undefined, 'x86_64'), 't3.micro');
    assert.equal(instanceTypeFor(undefined, undefined), 't3.micro');
    assert.equal(instanceTypeFor('c7g.large', 'arm64'), 'c7g.large');
  });

  it('turns SDK failures into errors that say what to do, never repeating a secret', () => {
    const credentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const error = awsFailure(credentials, 'looking for an AMI');
    assert.equal(error.code, 'CLOUD_CREDENTIALS');
    assert.match(error.hint ?? '', /AWS_ACCESS_KEY_ID.*~\/\.aws\/credentials.*--profile/s);
    assert.equal(awsFailure(new Error('Region is missing'), 'x').code, 'BAD_INPUT');
    assert.equal(awsFailure(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }), 'x').code, 'CLOUD_CREDENTIALS');
    assert.equal(awsFailure(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'x').code, 'INTERRUPTED');
    const throttled = awsFailure(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }), 'uploading hello.aws.raw to snapshot snap-1 (3 blocks sent)');
    assert.equal(throttled.code, 'CLOUD_FAILED');
    assert.match(throttled.message, /uploading hello\.aws\.raw to snapshot snap-1 \(3 blocks sent\): ThrottlingException: Rate exceeded/);
    const nowhere = awsFailure(Object.assign(new Error('getaddrinfo ENOTFOUND ec2.xx-nowhere-1.amazonaws.com'), { code: 'ENOTFOUND' }), 'looking for an AMI of this build');
    assert.equal(nowhere.code, 'CLOUD_FAILED');
    assert.match(nowhere.hint ?? '', /Check the region name .*an unknown region has no endpoint/);
  });

  it('refuses a region that is not a region\'s name before asking AWS anything', async () => {
    assert.equal(regionName('us-gov-west-1', '--region'), 'us-gov-west-1');
    assert.equal(regionName('eusc-de-east-1', '--region'), 'eusc-de-east-1');
    for (const bad of ['Mars', 'us-east', 'us_east_1', 'eu-west-1 ', '']) assert.throws(() => regionName(bad, '--region'), /is not an AWS region name/, bad);
    await assert.rejects(pushAws({ dir: '/nonexistent', copyToRegions: ['eu-west-1', 'moon'] }), (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && /--copy-to-regions "moon" is not an AWS region name/.test(error.message));
  });

  it('refuses a disk larger than an EBS snapshot holds (64 TiB) before asking AWS anything', { skip: !existsSync('/dev/shm') }, async () => {
    const dir = mkdtempSync(path.join('/dev/shm', 'gopid1-huge-'));
    try {
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ schema: 1, name: 'huge', artifacts: { aws: { file: 'huge.aws.raw', bytes: 0, sha256: '', firmware: ['uefi'] } }, boot: { cmdline: '', net: true }, plan: { outputs: ['aws'] } }));
      // Sparse: 64 TiB + 1 MiB of holes costs nothing on tmpfs (ext4 stops files at 16 TiB).
      writeFileSync(path.join(dir, 'huge.aws.raw'), '');
      truncateSync(path.join(dir, 'huge.aws.raw'), 64 * 2 ** 40 + 2 ** 20);
      await assert.rejects(pushAws({ dir, region: 'us-east-1' }), (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && /huge\.aws\.raw is 70368745226240 bytes, more than the 65536 GiB an EBS snapshot holds/.test(error.message) && /--disk-size/.test(error.hint ?? ''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reading an EC2 console that is returned whole each time', () => {
  it('gives only what follows the previous read, also once the 64 KiB window has moved on', () => {
    assert.equal(consoleDelta('', 'a\nb\n'), 'a\nb\n');
    assert.equal(consoleDelta('a\nb\n', 'a\nb\nc\n'), 'c\n');
    assert.equal(consoleDelta('a\nb\n', 'a\nb\n'), '');
    const old = `${'x'.repeat(3000)}\nline 1\n`;
    const moved = `${'x'.repeat(2000)}\nline 1\nline 2\n`;
    assert.equal(consoleDelta(old, moved), 'line 2\n');
    assert.equal(consoleDelta('gone\n', 'all new\n'), 'all new\n');
  });
});
