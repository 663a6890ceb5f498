/**
 * Makes a genisoimage ISO USB-hybrid the way GRUB's own tools do (grub-mkrescue / xorriso --grub2-mbr and
 * --grub2-boot-info), since isohybrid only knows isolinux: the system area gets GRUB's boot_hybrid.img and an
 * MBR partition table, and GRUB's El Torito image learns where its core lives when read from a disk.
 *
 *  - MBR bytes 0..445: boot_hybrid.img code; bytes 0x1b0..0x1b7: 512-byte sector of the El Torito image + 4
 *    (its diskboot part, after the 2 KiB cdboot part); boot image byte 2548: that sector + 5 (the rest of core).
 *  - Partitions: 0x80/0xCD over the ISO9660 data; with UEFI, a type 0xEF partition over efi.img (the ESP
 *    firmware boots from a stick) and the ISO data before and after it, so no two partitions overlap.
 *  - An ISO for UEFI alone (arm64: its El Torito catalog names the EFI platform and holds no BIOS image) gets the
 *    partition table and no boot code.
 */

const SECTOR = 2048;
const HEADS = 64;
const SECTORS_PER_TRACK = 32;

export interface HybridLayout {
  /** 2 KiB block of GRUB's BIOS El Torito image, when the ISO boots under BIOS. */
  biosImageBlock?: number;
  /** 2 KiB block of efi.img, when the ISO has a UEFI entry. */
  efiImageBlock?: number;
  efiImageBytes?: number;
  partitions: { bootable: boolean; type: number; start: number; sectors: number }[];
}

function fail(message: string): never {
  throw new Error(`not a gopid1 GRUB ISO: ${message}`);
}

/**
 * GRUB reads disks through a cache of 32 KiB aligned chunks, so a chunk that runs past the end of the medium
 * makes it fail to read the last files (it then cannot find its grub.cfg when booted from a CD). genisoimage's
 * own padding adds 300 KiB; rounding the image up to the next 32 KiB adds at most 30.
 */
export const GRUB_CHUNK = 32 * 1024;

export function padToChunk(iso: Buffer): Buffer {
  const size = Math.ceil(iso.length / GRUB_CHUNK) * GRUB_CHUNK;
  return size === iso.length ? iso : Buffer.concat([iso, Buffer.alloc(size - iso.length)]);
}

/** The El Torito platform id of the EFI firmware (0 is the PC BIOS). */
const EFI_PLATFORM = 0xef;

/**
 * Finds the BIOS and UEFI boot images through the El Torito boot record and catalog: the default entry boots on
 * the platform the validation entry names, later sections on theirs.
 */
export function readElTorito(iso: Buffer): { catalogBlock: number; biosImageBlock?: number; efiImageBlock?: number } {
  const record = 17 * SECTOR;
  if (iso.length < 18 * SECTOR || iso.subarray(record + 1, record + 6).toString('latin1') !== 'CD001') fail('no volume descriptor at block 17');
  if (!iso.subarray(record + 7, record + 30).toString('latin1').startsWith('EL TORITO SPECIFICATION')) fail('no El Torito boot record');
  const catalogBlock = iso.readUInt32LE(record + 0x47);
  const catalog = catalogBlock * SECTOR;
  if (catalog + 64 > iso.length || iso[catalog] !== 1 || iso[catalog + 30] !== 0x55 || iso[catalog + 31] !== 0xaa) fail('bad boot catalog validation entry');
  if (iso[catalog + 32] !== 0x88) fail('the default boot entry is not bootable');
  const defaultBlock = iso.readUInt32LE(catalog + 32 + 8);
  if (iso[catalog + 1] === EFI_PLATFORM) return { catalogBlock, efiImageBlock: defaultBlock };
  let efiImageBlock: number | undefined;
  for (let at = catalog + 64; at + 32 <= catalog + SECTOR && (iso[at] === 0x90 || iso[at] === 0x91); ) {
    const platform = iso[at + 1];
    const count = iso.readUInt16LE(at + 2);
    for (let i = 1; i <= count; i++) {
      if (platform === EFI_PLATFORM && iso[at + 32 * i] === 0x88) efiImageBlock ??= iso.readUInt32LE(at + 32 * i + 8);
    }
    const last = iso[at] === 0x91;
    at += 32 * (count + 1);
    if (last) break;
  }
  return { catalogBlock, biosImageBlock: defaultBlock, ...(efiImageBlock !== undefined ? { efiImageBlock } : {}) };
}

/** Size of the FAT file system at `offset`, from its BIOS parameter block. */
function fatBytes(iso: Buffer, offset: number): number {
  if (iso[offset + 510] !== 0x55 || iso[offset + 511] !== 0xaa) fail('efi.img is not a FAT file system');
  const bytesPerSector = iso.readUInt16LE(offset + 11);
  const sectors = iso.readUInt16LE(offset + 19) || iso.readUInt32LE(offset + 32);
  return bytesPerSector * sectors;
}

function chs(lba: number): number[] {
  const cylinder = Math.floor(lba / (HEADS * SECTORS_PER_TRACK));
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const rest = lba % (HEADS * SECTORS_PER_TRACK);
  const head = Math.floor(rest / SECTORS_PER_TRACK);
  const sector = (rest % SECTORS_PER_TRACK) + 1;
  return [head, sector | ((cylinder >> 8) << 6), cylinder & 0xff];
}

function partitionEntry(entry: HybridLayout['partitions'][number]): Buffer {
  const buffer = Buffer.alloc(16);
  buffer[0] = entry.bootable ? 0x80 : 0;
  Buffer.from(chs(entry.start)).copy(buffer, 1);
  buffer[4] = entry.type;
  Buffer.from(chs(entry.start + entry.sectors - 1)).copy(buffer, 5);
  buffer.writeUInt32LE(entry.start, 8);
  buffer.writeUInt32LE(entry.sectors, 12);
  return buffer;
}

/** The MBR partitions of a hybrid ISO: the ISO data, and the ESP over efi.img with the data around it. */
function hybridPartitions(iso: Buffer, efiImageBlock: number | undefined): { partitions: HybridLayout['partitions']; efiImageBytes?: number } {
  const total = iso.length / 512;
  if (efiImageBlock === undefined) return { partitions: [{ bootable: true, type: 0xcd, start: 1, sectors: total - 1 }] };
  const efiImageBytes = fatBytes(iso, efiImageBlock * SECTOR);
  const start = efiImageBlock * 4;
  const sectors = Math.ceil(efiImageBytes / 512);
  if (start + sectors > total) fail('efi.img runs past the end of the image');
  const partitions: HybridLayout['partitions'] = [
    { bootable: true, type: 0xcd, start: 1, sectors: start - 1 },
    { bootable: false, type: 0xef, start, sectors },
  ];
  if (start + sectors < total) partitions.push({ bootable: false, type: 0xcd, start: start + sectors, sectors: total - start - sectors });
  return { partitions, efiImageBytes };
}

/**
 * Writes the hybrid MBR into `iso` (in place) and, for an ISO that boots under BIOS, GRUB's boot code from
 * `bootHybrid` with its El Torito image patched; returns what it wrote.
 */
export function makeHybrid(iso: Buffer, bootHybrid: Buffer | undefined): HybridLayout {
  if (iso.length % SECTOR !== 0) fail('its size is not a multiple of 2048');
  if (iso.subarray(0, 446).some((byte) => byte !== 0)) fail('its system area is not empty');
  const { biosImageBlock, efiImageBlock } = readElTorito(iso);
  if (biosImageBlock === undefined && efiImageBlock === undefined) fail('no boot image');
  const { partitions, efiImageBytes } = hybridPartitions(iso, efiImageBlock);
  if (biosImageBlock !== undefined) {
    if (bootHybrid?.length !== 512) fail(`boot_hybrid.img is ${bootHybrid?.length ?? 0} bytes, not 512`);
    if ((biosImageBlock + 1) * SECTOR + 2556 > iso.length) fail('the BIOS boot image lies outside the image');
    bootHybrid.copy(iso, 0, 0, 446);
    iso.writeBigUInt64LE(BigInt(biosImageBlock * 4 + 4), 0x1b0);
    iso.writeBigUInt64LE(BigInt(biosImageBlock * 4 + 5), biosImageBlock * SECTOR + 2548);
  }
  partitions.forEach((partition, index) => partitionEntry(partition).copy(iso, 0x1be + 16 * index));
  iso[510] = 0x55;
  iso[511] = 0xaa;
  return {
    ...(biosImageBlock !== undefined ? { biosImageBlock } : {}),
    ...(efiImageBlock !== undefined ? { efiImageBlock, efiImageBytes: efiImageBytes ?? 0 } : {}),
    partitions,
  };
}
