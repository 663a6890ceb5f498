import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { attachDataDisk } from '../../src/data/attach.js';
import { probeDataDisk } from '../../src/data/probe.js';
import { encodeSparse, parseSparse, writeSparseImage, type SparseImage } from '../../src/data/sparse.js';
import { isGopid1Error } from '../../src/errors.js';
import { dataDiskArgs, qemuArgs } from '../../src/qemu/command.js';

const MIB = 1024 * 1024;
const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-data-unit-'));
let count = 0;
const file = (name: string): string => path.join(dir, `${count++}-${name}`);

/** A file of `bytes` (sparse) with `data` written at `at`. */
function diskWith(bytes: number, data?: Buffer, at = 0): string {
  const name = file('disk.img');
  writeFileSync(name, '');
  truncateSync(name, bytes);
  if (data) {
    const whole = readFileSync(name);
    data.copy(whole, at);
    writeFileSync(name, whole);
  }
  return name;
}

const ext4Magic = Buffer.from([0x53, 0xef]);

describe('data disk: the sparse form', () => {
  it('round-trips any set of runs, and writes them into a sparse file at their offsets', async () => {
    const runs = fc.uniqueArray(fc.tuple(fc.nat({ max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 64 })), { selector: ([slot]) => slot, maxLength: 8 });
    fc.assert(
      fc.property(runs, (picked) => {
        const image: SparseImage = { size: 256 * 64, runs: [...picked].sort(([a], [b]) => a - b).map(([slot, data]) => ({ offset: slot * 64, data: Buffer.from(data) })) };
        assert.deepEqual(parseSparse(encodeSparse(image)), image);
      }),
      { numRuns: 200 },
    );
    const image: SparseImage = { size: 3 * MIB, runs: [{ offset: 1024, data: Buffer.from('super') }, { offset: 2 * MIB, data: Buffer.from('far') }] };
    const out = file('written.img');
    await writeSparseImage(out, image);
    const written = readFileSync(out);
    assert.equal(written.length, 3 * MIB);
    assert.equal(written.toString('latin1', 1024, 1029), 'super');
    assert.equal(written.toString('latin1', 2 * MIB, 2 * MIB + 3), 'far');
    assert.ok(statSync(out).blocks * 512 < MIB, 'holes between the runs');
  });

  it('refuses what is not one: no header, cut-off runs, runs overlapping or outside the image', () => {
    const good = encodeSparse({ size: 100, runs: [{ offset: 10, data: Buffer.from('abc') }, { offset: 20, data: Buffer.from('de') }] });
    assert.throws(() => parseSparse(Buffer.from('nope')), /no GP1SPARS header/);
    assert.throws(() => parseSparse(good.subarray(0, good.length - 1)), /cut off/);
    assert.throws(() => parseSparse(good.subarray(0, 16 + 5)), /header is cut off/);
    assert.throws(() => parseSparse(encodeSparse({ size: 100, runs: [{ offset: 10, data: Buffer.from('abc') }, { offset: 11, data: Buffer.from('x') }] })), /overlaps/);
    assert.throws(() => parseSparse(encodeSparse({ size: 100, runs: [{ offset: 99, data: Buffer.from('xy') }] })), /outside the 100-byte image/);
  });
});

describe('data disk: what a disk holds, judged as the init judges it', () => {
  it('ext4 by the superblock magic, blank by zeros in the first and last MiB, anything else other', async () => {
    assert.equal((await probeDataDisk(diskWith(8 * MIB, ext4Magic, 1024 + 56))).contents, 'ext4');
    assert.equal((await probeDataDisk(diskWith(8 * MIB))).contents, 'blank');
    assert.equal((await probeDataDisk(diskWith(8 * MIB, Buffer.from([0x55, 0xaa]), 510))).contents, 'other', 'a partition table');
    assert.equal((await probeDataDisk(diskWith(8 * MIB, Buffer.from('EFI PART'), 8 * MIB - 512))).contents, 'other', 'a backup GPT at the end');
    assert.equal((await probeDataDisk(diskWith(8 * MIB, Buffer.from('x'), 4 * MIB))).contents, 'blank', 'only the ends are looked at');
  });
});

describe('data disk: what a boot attaches', () => {
  const refused = (pattern: RegExp) => (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && pattern.test(error.message) && Boolean(error.hint);

  it('makes a missing file blank with the build\'s size, attaches an ext4 or blank one as it is', async () => {
    const made = file('new.img');
    const attached = await attachDataDisk(made, 200 * MIB);
    assert.deepEqual({ created: attached.created, scratch: attached.scratch, file: attached.file }, { created: true, scratch: false, file: made });
    assert.equal(statSync(made).size, 200 * MIB);
    assert.equal(statSync(made).mode & 0o777, 0o600);
    const again = await attachDataDisk(made, 400 * MIB);
    assert.equal(again.created, false);
    assert.equal(statSync(made).size, 200 * MIB, 'an existing disk keeps its size');
    const ext4 = diskWith(8 * MIB, ext4Magic, 1024 + 56);
    assert.equal((await attachDataDisk(ext4, undefined)).created, false, 'no manifest needed for an existing disk');
  });

  it('without a file, a scratch disk that dispose removes', async () => {
    const scratch = await attachDataDisk(undefined, 128 * MIB);
    assert.equal(scratch.scratch, true);
    assert.equal(statSync(scratch.file).size, 128 * MIB);
    await scratch.dispose();
    assert.equal(existsSync(scratch.file), false);
  });

  it('refuses other contents, a blank disk too small to format, images that are not raw, and a missing file of unknown size', async () => {
    const other = diskWith(256 * MIB, Buffer.from('data'), 0);
    await assert.rejects(attachDataDisk(other, 256 * MIB), refused(/holds neither an ext4 filesystem on the whole disk nor zeros/));
    await assert.rejects(attachDataDisk(diskWith(64 * MIB), 256 * MIB), refused(/is blank and 64 MiB; the machine formats blank disks of at least 128 MiB/));
    await assert.rejects(attachDataDisk(file('data.qcow2'), 256 * MIB), refused(/data disks are raw images/));
    await assert.rejects(attachDataDisk(file('missing.img'), undefined), refused(/does not exist, and without the manifest of a --data-disk build/));
    await assert.rejects(attachDataDisk(path.join(dir, 'no', 'such', 'dir.img'), 256 * MIB), refused(/cannot create the data disk .*ENOENT/));
  });

  it('goes on virtio-blk, over MMIO on microvm, written to', () => {
    assert.deepEqual(dataDiskArgs('/d/a,b.img'), ['-drive', 'file=/d/a,,b.img,format=raw,if=none,id=data0,discard=unmap', '-device', 'virtio-blk-pci,drive=data0,serial=gopid1-data']);
    assert.equal(dataDiskArgs('/d.img', 'microvm')[3], 'virtio-blk-device,drive=data0,serial=gopid1-data');
    const args = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: '' }, memoryMiB: 128, accel: 'tcg', dataDisk: '/d.img' });
    assert.ok(args.join(' ').includes('file=/d.img,format=raw,if=none,id=data0') && !args.join(' ').includes('snapshot=on'));
  });
});
