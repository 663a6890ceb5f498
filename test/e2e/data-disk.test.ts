import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, leftovers, listInitramfs, tempDir } from '../helpers/e2e.js';
import type { Manifest } from '../../src/index.js';

const skip = e2ePrerequisites();
const MIB = 1024 * 1024;
const app = path.join(fixtures, 'datadisk');

function manifestOf(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The ext4 superblock of a disk image: its magic, and whether the journal needs replaying (not unmounted cleanly). */
function superblock(file: string): { ext4: boolean; needsRecovery: boolean; uuid: string } {
  const block = readFileSync(file).subarray(1024, 2048);
  return { ext4: block.readUInt16LE(56) === 0xef53, needsRecovery: (block.readUInt32LE(96) & 0x4) !== 0, uuid: block.subarray(104, 120).toString('hex') };
}

describe('--data-disk: an ext4 data disk on /data that outlives the machine', { skip }, () => {
  const out = tempDir('data-disk');
  const rebuilt = tempDir('data-disk-rebuilt');
  const disks = tempDir('data-disk-files');
  const kept = path.join(disks, 'kept.img');

  const bootWith = (dir: string, ...extra: string[]): ReturnType<typeof runCli> => runCli(['boot', dir, '--timeout', '120', ...extra]);

  it('builds <name>.data.img, an empty ext4 filesystem owned by the program\'s user, byte for byte the same from the same inputs', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', app, '--data-disk', '200m', '--user', '1000:1000', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const manifest = manifestOf(out);
    assert.equal(manifest.init.mode, 'supervise', '--data-disk brings the supervising init');
    assert.ok(manifest.kernel.fragments.some((f) => f.name === 'data.config'));
    assert.deepEqual(manifest.boot.dataDisk, { bytes: 200 * MIB });
    const image = path.join(out, 'datadisk.data.img');
    assert.equal(manifest.artifacts.dataDisk?.file, 'datadisk.data.img');
    assert.equal(statSync(image).size, 200 * MIB);
    assert.ok(statSync(image).blocks * 512 < 8 * MIB, 'the image is sparse');
    assert.ok(superblock(image).ext4);
    assert.equal(superblock(image).uuid, manifest.dataDisk?.uuid.replace(/-/g, ''));
    assert.ok(listInitramfs(path.join(out, 'initramfs.cpio.zst')).includes('etc/gopid1/data.sparse'), 'the template for blank disks is in the initramfs');

    const again = await runCli(['build', app, '--data-disk', '200m', '--user', '1000:1000', '--out', rebuilt]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(sha256Of(path.join(rebuilt, 'datadisk.data.img')), sha256Of(image));
    assert.equal(manifestOf(rebuilt).artifacts.dataDisk?.sha256, manifest.artifacts.dataDisk?.sha256);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('formats a blank disk on first boot, keeps what the program wrote across boots and rebuilds, and unmounts it cleanly', { timeout: 5 * 60_000 }, async () => {
    const first = await bootWith(out, '--data-disk', kept);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /gopid1: data: \/dev\/vda was blank: wrote an empty ext4 filesystem/);
    assert.match(first.stdout, /gopid1: data: grew the filesystem on \/dev\/vda from 128 to 200 MiB/);
    assert.match(first.stdout, /^mount \/dev\/vda ext4 rw,nosuid,nodev/m);
    assert.match(first.stdout, /^owner 1000:1000, running as 1000:1000$/m);
    assert.match(first.stdout, /^count 1$/m);
    assert.match(first.stderr, /made blank for this boot/);
    assert.equal(statSync(kept).size, 200 * MIB, 'made with the size the build recorded');
    assert.equal(superblock(kept).needsRecovery, false, 'unmounted cleanly at power-off');

    const second = await bootWith(out, '--data-disk', kept);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /was blank/);
    assert.match(second.stdout, /^count 2$/m);

    const afterRebuild = await bootWith(rebuilt, '--data-disk', kept);
    assert.equal(afterRebuild.code, 0, afterRebuild.stderr);
    assert.match(afterRebuild.stdout, /^count 3$/m);
    assert.equal(superblock(kept).needsRecovery, false);
  });

  it('boots a copy of the built image and grows its filesystem to a larger disk', { timeout: 5 * 60_000 }, async () => {
    const copy = path.join(disks, 'grown.img');
    copyFileSync(path.join(out, 'datadisk.data.img'), copy);
    truncateSync(copy, 512 * MIB);
    const run = await bootWith(out, '--data-disk', copy);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /was blank/);
    assert.match(run.stdout, /grew the filesystem on \/dev\/vda from 200 to 512 MiB/);
    assert.match(run.stdout, /^count 1$/m);
  });

  it('without --data-disk boots on a scratch disk it removes afterwards', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--timeout', '120', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { dataDisk?: { file: string; scratch: boolean } };
    assert.equal(result.dataDisk?.scratch, true);
    assert.equal(existsSync(result.dataDisk.file), false, 'the scratch disk is gone');
  });

  it('refuses a disk holding something else, and leaves it as it was', { timeout: 60_000 }, async () => {
    const other = path.join(disks, 'other.img');
    writeFileSync(other, Buffer.concat([Buffer.from('not a filesystem'), Buffer.alloc(MIB)]));
    truncateSync(other, 256 * MIB);
    const before = sha256Of(other);
    const run = await bootWith(out, '--data-disk', other);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /holds neither an ext4 filesystem on the whole disk nor zeros .* gopid1 never formats over data \[BAD_INPUT\]/);
    assert.equal(sha256Of(other), before);
  });
});
