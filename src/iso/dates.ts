/**
 * genisoimage writes the wall clock into an ISO even with SOURCE_DATE_EPOCH set: the volume descriptors'
 * creation and modification dates, and through the files' times every directory record and Rock Ridge TF
 * entry. This rewrites all of them to one fixed time, so the same inputs give the same bytes.
 */

const SECTOR = 2048;
/** Rock Ridge TF flags, in the order their timestamps follow. */
const TF_TIMES = [1, 2, 4, 8, 16, 32, 64];
const TF_LONG_FORM = 0x80;

function fail(message: string): never {
  throw new Error(`cannot fix the ISO's dates: ${message}`);
}

/** The 7-byte directory-record date (ECMA-119 9.1.5) of `epoch`, in UTC. */
export function shortDate(epoch: number): Buffer {
  const d = new Date(epoch * 1000);
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

/** The 17-byte volume-descriptor date (ECMA-119 8.4.26.1) of `epoch`, in UTC. */
export function longDate(epoch: number): Buffer {
  const d = new Date(epoch * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  const digits = `${String(d.getUTCFullYear()).padStart(4, '0')}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}00`;
  return Buffer.concat([Buffer.from(digits, 'ascii'), Buffer.from([0])]);
}

/** "Not specified", for the expiration date. */
const UNSET_LONG_DATE = Buffer.concat([Buffer.from('0000000000000000', 'ascii'), Buffer.from([0])]);

interface Walk {
  iso: Buffer;
  short: Buffer;
  long: Buffer;
  visited: Set<number>;
  records: number;
}

/** Rewrites the TF entries in a System Use area (and the continuation areas CE entries point to). */
function fixSystemUse(walk: Walk, start: number, end: number, depth = 0): void {
  if (depth > 8) fail('too many SUSP continuation areas');
  let at = start;
  while (at + 4 <= end) {
    const signature = walk.iso.toString('latin1', at, at + 2);
    const length = walk.iso[at + 2] ?? 0;
    if (length < 4 || at + length > end) break;
    if (signature === 'TF') {
      const flags = walk.iso[at + 4] ?? 0;
      const size = flags & TF_LONG_FORM ? 17 : 7;
      let stamp = at + 5;
      for (const bit of TF_TIMES) {
        if (!(flags & bit)) continue;
        if (stamp + size > at + length) fail('a Rock Ridge TF entry is shorter than its flags say');
        (size === 17 ? walk.long : walk.short).copy(walk.iso, stamp);
        stamp += size;
      }
    } else if (signature === 'CE') {
      const block = walk.iso.readUInt32LE(at + 4);
      const offset = walk.iso.readUInt32LE(at + 12);
      const size = walk.iso.readUInt32LE(at + 20);
      const from = block * SECTOR + offset;
      if (from + size > walk.iso.length) fail('a SUSP continuation area lies outside the image');
      fixSystemUse(walk, from, from + size, depth + 1);
    } else if (signature === 'ST') {
      break;
    }
    at += length;
  }
}

/** Rewrites the dates of every record in the directory at `block`, and of its subdirectories. */
function fixDirectory(walk: Walk, block: number, size: number): void {
  if (walk.visited.has(block)) return;
  walk.visited.add(block);
  const start = block * SECTOR;
  const end = start + size;
  if (end > walk.iso.length) fail('a directory lies outside the image');
  let at = start;
  while (at < end) {
    const length = walk.iso[at] ?? 0;
    if (length === 0) {
      // Records never cross a sector boundary: the rest of this sector is padding.
      at = (Math.floor((at - start) / SECTOR) + 1) * SECTOR + start;
      continue;
    }
    if (length < 34 || at + length > end) fail('a directory record is malformed');
    walk.short.copy(walk.iso, at + 18);
    walk.records += 1;
    const nameLength = walk.iso[at + 32] ?? 0;
    const systemUse = at + 33 + nameLength + (nameLength % 2 === 0 ? 1 : 0);
    fixSystemUse(walk, systemUse, at + length);
    const isDirectory = ((walk.iso[at + 25] ?? 0) & 2) !== 0;
    const self = nameLength === 1 && (walk.iso[at + 33] === 0 || walk.iso[at + 33] === 1);
    if (isDirectory && !self) fixDirectory(walk, walk.iso.readUInt32LE(at + 2), walk.iso.readUInt32LE(at + 10));
    at += length;
  }
}

/**
 * Sets every date in an ISO 9660 image (with Rock Ridge) to `epoch`: the volume descriptors' creation,
 * modification and effective dates (expiration: unset), and all directory records and TF entries.
 * Returns how many directory records it rewrote.
 */
export function fixIsoDates(iso: Buffer, epoch: number): number {
  const walk: Walk = { iso, short: shortDate(epoch), long: longDate(epoch), visited: new Set(), records: 0 };
  let root: { block: number; size: number } | undefined;
  for (let block = 16; ; block++) {
    const at = block * SECTOR;
    if (at + SECTOR > iso.length || iso.toString('latin1', at + 1, at + 6) !== 'CD001') fail(`no volume descriptor at block ${block}`);
    const type = iso[at];
    if (type === 255) break;
    if (type === 1 || type === 2) {
      for (const offset of [813, 830, 864]) walk.long.copy(iso, at + offset);
      UNSET_LONG_DATE.copy(iso, at + 847);
      walk.short.copy(iso, at + 156 + 18);
      if (type === 1) root = { block: iso.readUInt32LE(at + 156 + 2), size: iso.readUInt32LE(at + 156 + 10) };
    }
  }
  if (!root) fail('no primary volume descriptor');
  fixDirectory(walk, root.block, root.size);
  return walk.records;
}
