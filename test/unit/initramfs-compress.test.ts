import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { compressorCommand, compressorDescription, gzip9, initramfsFileName } from '../../src/initramfs/compress.js';
import { decompressorFragment } from '../../src/kernel/fragments.js';
import { INITRAMFS_COMPRESSIONS } from '../../src/plan/vocabulary.js';

// Something shaped like an initramfs: a compressible part and a random one.
const sample = Buffer.concat([Buffer.from('070701'.repeat(40_000)), randomBytes(64 * 1024)]);

function run(command: string[], input: Buffer): Buffer {
  return execFileSync(command[0]!, command.slice(1), { input, maxBuffer: 64 * 2 ** 20 });
}

describe('initramfs compression', () => {
  it('names the file after the compression', () => {
    assert.deepEqual(INITRAMFS_COMPRESSIONS.map(initramfsFileName), ['initramfs.cpio.zst', 'initramfs.cpio.xz', 'initramfs.cpio.gz']);
  });

  it('gives the kernel the one decompressor it needs, and for the minimal base none of the others', () => {
    assert.equal(decompressorFragment('zstd', 'minimal'), 'CONFIG_RD_ZSTD=y\n# CONFIG_RD_XZ is not set\n# CONFIG_RD_GZIP is not set\n');
    assert.equal(decompressorFragment('xz', 'minimal'), '# CONFIG_RD_ZSTD is not set\nCONFIG_RD_XZ=y\n# CONFIG_RD_GZIP is not set\n');
    assert.equal(decompressorFragment('gzip', 'defconfig'), 'CONFIG_RD_GZIP=y\n', 'a full base keeps what it has');
  });

  it('gzip: the same bytes every time, no name and no time in the header', () => {
    const packed = gzip9(sample);
    assert.deepEqual(gzip9(sample), packed);
    assert.equal(packed.readUInt32LE(4), 0, 'MTIME is zero');
    assert.equal(packed[3]! & 0x08, 0, 'no FNAME');
    assert.deepEqual(gunzipSync(packed), sample);
  });

  it('xz: single-threaded, CRC32 (the kernel knows no CRC64), x86 BCJ + LZMA2 with a 1 MiB dictionary; round-trips', () => {
    const command = compressorCommand('xz');
    assert.ok(command.includes('--threads=1'));
    const packed = run(command, sample);
    assert.deepEqual(run(command, sample), packed, 'reproducible');
    assert.deepEqual(run(['xz', '-dc'], packed), sample);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gopid1-xz-')), 'initramfs.cpio.xz');
    writeFileSync(file, packed);
    const listing = execFileSync('xz', ['--robot', '--list', '-vv', file]).toString();
    assert.match(listing, /\tCRC32\t/);
    assert.match(listing, /--x86 --lzma2=dict=1MiB/);
  });

  it('zstd: single-threaded, level 19, with the checksum the kernel verifies; round-trips', () => {
    const command = compressorCommand('zstd');
    assert.ok(command.includes('--threads=1') && command.includes('-19'));
    const packed = run(command, sample);
    assert.deepEqual(run(command, sample), packed, 'reproducible');
    assert.deepEqual(run(['zstd', '-dc'], packed), sample);
    assert.equal(packed.readUInt32LE(0), 0xfd2fb528, 'zstd frame magic');
    assert.equal((packed[4]! >> 2) & 1, 1, 'content checksum flag set');
  });

  it('says in the manifest what compressed it', () => {
    assert.equal(compressorDescription('xz'), compressorCommand('xz').join(' '));
    assert.match(compressorDescription('gzip'), /zlib deflate level 9/);
  });
});
