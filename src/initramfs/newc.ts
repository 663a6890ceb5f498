/**
 * A writer for the "newc" cpio format the kernel unpacks into its initial rootfs (SVR4 without CRC,
 * magic 070701). Output is a pure function of the entries: sorted names, fixed inode numbers, owner and
 * mtime, so the same input always gives the same bytes.
 */

export type CpioEntry =
  | { type: 'file'; name: string; mode: number; data: Buffer }
  | { type: 'dir'; name: string; mode: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'char' | 'block'; name: string; mode: number; major: number; minor: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const TRAILER = 'TRAILER!!!';

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`cpio field out of range: ${value}`);
  return value.toString(16).padStart(8, '0');
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

interface Record {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  data: Buffer;
  rdevmajor: number;
  rdevminor: number;
  name: string;
}

function header(record: Record): Buffer {
  const nameBytes = Buffer.from(`${record.name}\0`, 'utf8');
  const fields = [
    record.ino,
    record.mode,
    0, // uid
    0, // gid
    record.nlink,
    record.mtime,
    record.data.length,
    0, // devmajor
    0, // devminor
    record.rdevmajor,
    record.rdevminor,
    nameBytes.length,
    0, // check
  ];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length))]);
}

function normaliseName(name: string): string {
  const clean = name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  // A NUL ends a name in the archive: the kernel would cut the name there.
  if (clean === '' || clean.includes('\0') || clean.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`invalid initramfs path: ${JSON.stringify(name)}`);
  }
  return clean;
}

/** Serialises `entries` (any order; names relative, no "..") into a newc archive with a trailer. */
export function writeNewc(entries: CpioEntry[], options: { mtime: number }): Buffer {
  const named = entries.map((entry) => ({ ...entry, name: normaliseName(entry.name) }));
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < named.length; i++) {
    if (named[i]!.name === named[i - 1]!.name) throw new Error(`duplicate initramfs path: ${named[i]!.name}`);
  }
  const parts: Buffer[] = [];
  named.forEach((entry, index) => {
    const base = { ino: index + 1, mtime: options.mtime, name: entry.name, rdevmajor: 0, rdevminor: 0 };
    let record: Record;
    switch (entry.type) {
      case 'file':
        record = { ...base, mode: S_IFREG | (entry.mode & 0o7777), nlink: 1, data: entry.data };
        break;
      case 'dir':
        record = { ...base, mode: S_IFDIR | (entry.mode & 0o7777), nlink: 2, data: Buffer.alloc(0) };
        break;
      case 'symlink':
        record = { ...base, mode: S_IFLNK | 0o777, nlink: 1, data: Buffer.from(entry.target, 'utf8') };
        break;
      case 'char':
      case 'block':
        record = {
          ...base,
          mode: (entry.type === 'char' ? S_IFCHR : S_IFBLK) | (entry.mode & 0o7777),
          nlink: 1,
          data: Buffer.alloc(0),
          rdevmajor: entry.major,
          rdevminor: entry.minor,
        };
        break;
    }
    parts.push(header(record), record.data, Buffer.alloc(pad4(record.data.length)));
  });
  parts.push(header({ ino: 0, mode: 0, nlink: 1, mtime: 0, data: Buffer.alloc(0), rdevmajor: 0, rdevminor: 0, name: TRAILER }));
  return Buffer.concat(parts);
}
