import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { derivedGuid, writeBiosBootCode } from '../../src/disk/build.js';
import { diskArgs } from '../../src/qemu/command.js';

describe('GPT disk: fixed GUIDs and the BIOS boot code', () => {
  it('derives a version-4 shaped GUID from a seed, the same every time, another for another seed', () => {
    const guid = derivedGuid('disk abc');
    assert.match(guid, /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    assert.equal(derivedGuid('disk abc'), guid);
    assert.notEqual(derivedGuid('esp abc'), guid);
  });

  it('writes boot.img\'s code over the MBR, keeps the partition table, and points MBR and core at the BIOS boot partition', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-disk-'));
    const disk = path.join(dir, 'disk.raw');
    const image = Buffer.alloc(4 * 1024 * 1024);
    image.fill(0x11, 446, 510); // the partition table sgdisk wrote
    image[510] = 0x55;
    image[511] = 0xaa;
    writeFileSync(disk, image);
    const bootImg = Buffer.alloc(512, 0xb0);
    const core = Buffer.alloc(3 * 512 + 17, 0xc0);
    await writeBiosBootCode(disk, core, bootImg);
    const written = readFileSync(disk);
    assert.equal(written.length, image.length, 'the disk keeps its size');
    assert.equal(written.readBigUInt64LE(0x5c), 2048n, 'the MBR points at the core');
    assert.ok(written.subarray(0, 0x5c).every((byte) => byte === 0xb0));
    assert.ok(written.subarray(0x64, 440).every((byte) => byte === 0xb0));
    assert.ok(written.subarray(446, 510).every((byte) => byte === 0x11), 'the partition table is untouched');
    assert.equal(written.readUInt16LE(510), 0xaa55);
    const at = 2048 * 512;
    assert.equal(written.readBigUInt64LE(at + 500), 2049n, 'the core\'s first blocklist starts after its first sector');
    assert.ok(written.subarray(at + 512, at + core.length).every((byte) => byte === 0xc0));
    await assert.rejects(writeBiosBootCode(disk, Buffer.alloc(1024 * 1024 + 1), bootImg), /does not fit/);
  });

  it('attaches a disk on each bus the way its target presents it, never writing to it', () => {
    assert.deepEqual(diskArgs('/d/a,b.raw', 'ide'), ['-drive', 'file=/d/a,,b.raw,format=raw,snapshot=on,if=ide', '-boot', 'c']);
    assert.deepEqual(diskArgs('/d/x.raw', 'virtio'), ['-drive', 'file=/d/x.raw,format=raw,snapshot=on,if=virtio', '-boot', 'c']);
    assert.ok(diskArgs('/d/x.raw', 'nvme').includes('nvme,serial=gopid1disk0,drive=disk0,bootindex=0'));
    assert.ok(diskArgs('/d/x.raw', 'scsi').includes('virtio-scsi-pci,id=scsi0'));
  });
});
