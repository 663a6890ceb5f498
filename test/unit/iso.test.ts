import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { earlyConfig, grubConfig, grubKernelArguments } from '../../src/iso/grub.js';
import { GRUB_CHUNK, makeHybrid, padToChunk, readElTorito } from '../../src/iso/hybrid.js';
import { volumeId } from '../../src/iso/iso-build.js';
import { isoFileName } from '../../src/outputs/table.js';
import { kernelCmdline } from '../../src/plan/vocabulary.js';

const S = 2048;

/** A synthetic ISO: volume descriptors, an El Torito catalog, a BIOS boot image, and optionally a FAT efi.img. */
function syntheticIso(options: { blocks: number; bios: number; efi?: { block: number; bytes: number }; efiOnly?: { bytes: number } }): Buffer {
  const iso = Buffer.alloc(options.blocks * S);
  iso[16 * S] = 1;
  iso.write('CD001', 16 * S + 1, 'latin1');
  iso.writeUInt32LE(options.blocks, 16 * S + 80);
  iso[17 * S] = 0;
  iso.write('CD001', 17 * S + 1, 'latin1');
  iso.write('EL TORITO SPECIFICATION', 17 * S + 7, 'latin1');
  const catalogBlock = 20;
  iso.writeUInt32LE(catalogBlock, 17 * S + 0x47);
  const c = catalogBlock * S;
  iso[c] = 1;
  iso[c + 30] = 0x55;
  iso[c + 31] = 0xaa;
  iso[c + 32] = 0x88;
  iso.writeUInt16LE(4, c + 38);
  iso.writeUInt32LE(options.bios, c + 40);
  if (options.efi) {
    iso[c + 64] = 0x91;
    iso[c + 65] = 0xef;
    iso.writeUInt16LE(1, c + 66);
    iso[c + 96] = 0x88;
    iso.writeUInt32LE(options.efi.block, c + 104);
    writeFat(iso, options.efi.block, options.efi.bytes);
  }
  if (options.efiOnly) {
    // The default entry on the EFI platform (as genisoimage writes it for `-e` alone): a FAT image, no BIOS code.
    iso[c + 1] = 0xef;
    writeFat(iso, options.bios, options.efiOnly.bytes);
    return iso;
  }
  iso.fill(0xcc, options.bios * S, options.bios * S + 4 * S);
  return iso;
}

/** The BIOS parameter block of a FAT image of `bytes` at `block`. */
function writeFat(iso: Buffer, block: number, bytes: number): void {
  const fat = block * S;
  iso.writeUInt16LE(512, fat + 11);
  iso.writeUInt16LE(bytes / 512, fat + 19);
  iso[fat + 510] = 0x55;
  iso[fat + 511] = 0xaa;
}

const bootHybrid = Buffer.alloc(512, 0xe9);

describe('USB-hybrid ISO (GRUB hybrid MBR)', () => {
  it('finds the boot images through the El Torito catalog', () => {
    assert.deepEqual(readElTorito(syntheticIso({ blocks: 64, bios: 30, efi: { block: 25, bytes: 8192 } })), { catalogBlock: 20, biosImageBlock: 30, efiImageBlock: 25 });
    assert.deepEqual(readElTorito(syntheticIso({ blocks: 64, bios: 30 })), { catalogBlock: 20, biosImageBlock: 30 });
  });

  it('writes boot_hybrid.img, the core sector GRUB patches, and one bootable partition (BIOS only)', () => {
    const iso = syntheticIso({ blocks: 64, bios: 30 });
    const layout = makeHybrid(iso, bootHybrid);
    assert.deepEqual(iso.subarray(0, 0x1b0), bootHybrid.subarray(0, 0x1b0));
    assert.equal(iso.readBigUInt64LE(0x1b0), BigInt(30 * 4 + 4), 'MBR: the diskboot sector of the El Torito image');
    assert.equal(iso.readBigUInt64LE(30 * S + 2548), BigInt(30 * 4 + 5), 'boot image: where the rest of core starts');
    assert.equal(iso.readUInt16BE(510), 0x55aa);
    assert.deepEqual(layout.partitions, [{ bootable: true, type: 0xcd, start: 1, sectors: 64 * 4 - 1 }]);
    const entry = iso.subarray(0x1be, 0x1ce);
    assert.equal(entry[0], 0x80);
    assert.equal(entry[4], 0xcd);
    assert.deepEqual([...entry.subarray(1, 4)], [0, 2, 0], 'CHS of LBA 1 with 64 heads, 32 sectors');
    assert.equal(entry.readUInt32LE(8), 1);
    assert.equal(entry.readUInt32LE(12), 255);
    assert.ok(iso.subarray(0x1ce, 0x1fe).every((b) => b === 0), 'no other partitions');
  });

  it('adds an EFI system partition over efi.img without overlapping partitions (BIOS + UEFI)', () => {
    const iso = syntheticIso({ blocks: 64, bios: 40, efi: { block: 25, bytes: 8192 } });
    const { partitions } = makeHybrid(iso, bootHybrid);
    assert.deepEqual(partitions, [
      { bootable: true, type: 0xcd, start: 1, sectors: 99 },
      { bootable: false, type: 0xef, start: 100, sectors: 16 },
      { bootable: false, type: 0xcd, start: 116, sectors: 256 - 116 },
    ]);
    for (let i = 1; i < partitions.length; i++) {
      assert.equal(partitions[i]!.start, partitions[i - 1]!.start + partitions[i - 1]!.sectors, 'contiguous, no overlap');
    }
    assert.equal(iso[0x1ce + 4], 0xef);
  });

  it('gives an ISO for UEFI alone (arm64) the partition table and no boot code', () => {
    const iso = syntheticIso({ blocks: 64, bios: 25, efiOnly: { bytes: 8192 } });
    assert.deepEqual(readElTorito(iso), { catalogBlock: 20, efiImageBlock: 25 });
    const layout = makeHybrid(iso, undefined);
    assert.deepEqual(layout, {
      efiImageBlock: 25,
      efiImageBytes: 8192,
      partitions: [
        { bootable: true, type: 0xcd, start: 1, sectors: 99 },
        { bootable: false, type: 0xef, start: 100, sectors: 16 },
        { bootable: false, type: 0xcd, start: 116, sectors: 256 - 116 },
      ],
    });
    assert.ok(iso.subarray(0, 0x1be).every((b) => b === 0), 'no BIOS boot code');
    assert.equal(iso[0x1ce + 4], 0xef);
    assert.equal(iso.readUInt16BE(510), 0x55aa);
  });

  it('refuses images it does not understand instead of writing over them', () => {
    assert.throws(() => makeHybrid(Buffer.alloc(40 * S), bootHybrid), /no volume descriptor|no El Torito/);
    const used = syntheticIso({ blocks: 64, bios: 30 });
    used[0] = 0xeb;
    assert.throws(() => makeHybrid(used, bootHybrid), /system area is not empty/);
    assert.throws(() => makeHybrid(syntheticIso({ blocks: 64, bios: 30 }), Buffer.alloc(440)), /boot_hybrid\.img is 440 bytes/);
  });

  it('pads the image to GRUB\'s 32 KiB read chunks, and only that much', () => {
    assert.equal(padToChunk(Buffer.alloc(S * 17)).length, GRUB_CHUNK * 2);
    const exact = Buffer.alloc(GRUB_CHUNK * 3);
    assert.equal(padToChunk(exact), exact);
  });
});

describe('GRUB configuration', () => {
  it('talks on serial and screen, waits the menu timeout, and boots with the same command line as `gopid1 boot`', () => {
    const cfg = grubConfig({ name: "it's hello", cmdline: kernelCmdline('foo=1'), menuTimeoutSeconds: 0, initramfsFile: 'initramfs.cpio.zst' });
    assert.match(cfg, /^serial --unit=0 --speed=115200/m);
    assert.match(cfg, /^terminal_input serial console$/m);
    assert.match(cfg, /^terminal_output serial console$/m);
    assert.match(cfg, /^set timeout=0$/m);
    assert.match(cfg, /^menuentry 'it'\\''s hello' \{$/m);
    assert.match(cfg, /^  linux \/boot\/bzImage 'console=ttyS0' 'panic=-1' 'printk\.time=1' 'quiet' 'foo=1'$/m);
    assert.match(cfg, /^  initrd \/boot\/initramfs\.cpio\.zst$/m);
    assert.throws(() => grubConfig({ name: 'x', cmdline: 'a\nb', menuTimeoutSeconds: 0, initramfsFile: 'initramfs.cpio' }), /one line/);
    assert.throws(() => grubConfig({ name: 'x', cmdline: 'a', menuTimeoutSeconds: -1, initramfsFile: 'initramfs.cpio' }), /menu timeout/);
  });

  it('on arm64 talks on the firmware\'s console (no 8250 UART for GRUB) and boots the Image', () => {
    const cfg = grubConfig({ name: 'hello', cmdline: kernelCmdline(undefined, 'arm64'), menuTimeoutSeconds: 0, initramfsFile: 'initramfs.cpio.zst', kernelFile: 'Image', serial: false });
    assert.doesNotMatch(cfg, /serial/);
    assert.match(cfg, /^terminal_input console$/m);
    assert.match(cfg, /^terminal_output console$/m);
    // No console= on arm64: the kernel takes the firmware's (the device tree's stdout-path, or ACPI's SPCR table).
    assert.match(cfg, /^  linux \/boot\/Image 'panic=-1' /m);
  });

  it('quotes each kernel parameter for GRUB and refuses quotes and backslashes it would change', () => {
    assert.equal(grubKernelArguments('a=$x  b=${y}'), `'a=$x' 'b=\${y}'`);
    for (const mangled of ['x="a b"', "b=it's", 'p=a\\b']) assert.throws(() => grubKernelArguments(mangled), /quotes or backslashes/, mangled);
  });

  it('finds its own medium by a marker file', () => {
    assert.equal(earlyConfig('gopid1-abc.id'), 'search --no-floppy --set=root --file /boot/grub/gopid1-abc.id\nset prefix=($root)/boot/grub\n');
  });

  it('derives a valid volume id and file name from the machine name', () => {
    assert.equal(volumeId('hello-world.v2'), 'HELLO_WORLD_V2');
    assert.equal(volumeId('x'.repeat(40)).length, 32);
    assert.equal(isoFileName('my app/1'), 'my_app_1.iso');
    assert.equal(isoFileName('..'), 'gopid1.iso');
  });
});
