import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assembleDisk, derivedGuid, parseLayout, writeBiosBootCode } from '../../src/disk/disk-build.js';
import { fixVhdFooter, fixVmdkCid } from '../../src/disk/convert.js';
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

  it('writes a large disk as a sparse file: its data from the start, the backup GPT at the end, a hole between', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-disk-'));
    const disk = path.join(dir, 'disk.raw');
    const head = Buffer.alloc(3 * 1024 * 1024, 0x48);
    const tail = Buffer.alloc(1024 * 1024, 0x54);
    const bytes = 4 * 1024 ** 3;
    await assembleDisk(disk, head, tail, bytes);
    const stat = statSync(disk);
    assert.equal(stat.size, bytes);
    assert.ok(stat.blocks * 512 < 64 * 1024 * 1024, `${stat.blocks * 512} bytes allocated for 4 MiB of data`);
    const fd = openSync(disk, 'r');
    const probe = (at: number) => {
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, at);
      return byte[0];
    };
    assert.deepEqual([probe(0), probe(head.length - 1), probe(head.length), probe(bytes / 2), probe(bytes - tail.length - 1), probe(bytes - tail.length), probe(bytes - 1)], [0x48, 0x48, 0, 0, 0, 0x54, 0x54]);
    closeSync(fd);
    await assert.rejects(assembleDisk(disk, head, tail, 2 * 1024 * 1024), RangeError);
  });

  it('reads the disk step\'s layout, refusing anything else', () => {
    assert.deepEqual(parseLayout('7 1024\n'), { minimumMiB: 7, diskMiB: 1024 });
    assert.throws(() => parseLayout('7\n'), RangeError);
  });

  it('attaches a disk on each bus the way its target presents it, never writing to it', () => {
    assert.deepEqual(diskArgs('/d/a,b.raw', 'ide'), ['-drive', 'file=/d/a,,b.raw,format=raw,snapshot=on,if=ide', '-boot', 'c']);
    assert.deepEqual(diskArgs('/d/x.raw', 'virtio'), ['-drive', 'file=/d/x.raw,format=raw,snapshot=on,if=virtio', '-boot', 'c']);
    assert.ok(diskArgs('/d/x.raw', 'nvme').includes('nvme,serial=gopid1disk0,drive=disk0,bootindex=0'));
    assert.ok(diskArgs('/d/x.raw', 'scsi').includes('virtio-scsi-pci,id=scsi0'));
  });
});

describe('what qemu-img leaves to chance, made fixed', () => {
  function footer(): Buffer {
    const bytes = Buffer.alloc(512, 0x5a);
    bytes.write('conectix', 0, 'latin1');
    return bytes;
  }

  it('sets the VHD footer\'s time from SOURCE_DATE_EPOCH, its UUID from the seed, and a valid checksum', () => {
    const a = footer();
    fixVhdFooter(a, 'seed', 1704067200);
    assert.equal(a.readUInt32BE(24), 1704067200 - 946684800, 'seconds since 2000-01-01');
    let sum = 0;
    a.forEach((byte, at) => (sum += at >= 64 && at < 68 ? 0 : byte));
    assert.equal(a.readUInt32BE(64), ~sum >>> 0);
    const b = footer();
    b.fill(0x33, 68, 84); // another random UUID from qemu-img
    fixVhdFooter(b, 'seed', 1704067200);
    assert.ok(a.equals(b), 'the same seed and time give the same footer whatever qemu-img chose');
    const c = footer();
    fixVhdFooter(c, 'other', 1704067200);
    assert.ok(!c.subarray(68, 84).equals(a.subarray(68, 84)));
    assert.equal((() => { const d = footer(); fixVhdFooter(d, 's', 0); return d.readUInt32BE(24); })(), 0, 'times before 2000 are clamped');
    assert.throws(() => fixVhdFooter(Buffer.alloc(512), 'seed', 0), /no VHD footer/);
  });

  it('replaces the VMDK descriptor\'s CID in place, keeping every offset, and not the parent CID', () => {
    const text = '# Disk DescriptorFile\nversion=1\nCID=1a2b3c4d\nparentCID=ffffffff\ncreateType="streamOptimized"\n';
    const head = Buffer.from(text, 'latin1');
    assert.ok(fixVmdkCid(head, 'seed'));
    const fixed = head.toString('latin1');
    assert.equal(fixed.length, text.length);
    assert.match(fixed, /\nCID=[0-9a-f]{8}\nparentCID=ffffffff\n/);
    assert.doesNotMatch(fixed, /CID=1a2b3c4d/);
    const again = Buffer.from(text.replace('1a2b3c4d', '99999999'), 'latin1');
    fixVmdkCid(again, 'seed');
    assert.equal(again.toString('latin1'), fixed);
    assert.equal(fixVmdkCid(Buffer.from('no descriptor'), 'seed'), false);
  });

  it('writes a CID qemu-img printed without leading zeros as 8 digits, moving the rest into the padding: the same bytes either way', () => {
    const descriptor = (cid: string): Buffer => {
      const head = Buffer.alloc(1024);
      head.write(`# Disk DescriptorFile\nversion=1\nCID=${cid}\nparentCID=ffffffff\ncreateType="streamOptimized"\n`, 512, 'latin1');
      return head;
    };
    const long = descriptor('1a2b3c4d');
    const short = descriptor('a2b3c');
    assert.ok(fixVmdkCid(long, 'seed'));
    assert.ok(fixVmdkCid(short, 'seed'));
    assert.ok(short.equals(long), 'a 5-digit CID gives the bytes an 8-digit one does');
    assert.match(short.toString('latin1'), /\nCID=[0-9a-f]{8}\nparentCID=ffffffff\ncreateType="streamOptimized"\n\0/);
    const full = Buffer.from('x\nCID=abc\nparentCID=ffffffff\n', 'latin1');
    assert.equal(fixVmdkCid(full, 'seed'), false, 'no padding to grow into');
  });
});
