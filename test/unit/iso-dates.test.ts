import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fixIsoDates, longDate, shortDate } from '../../src/iso/dates.js';

const S = 2048;
const EPOCH = 1704067200; // 2024-01-01T00:00:00Z

function record(options: { extent: number; size: number; directory: boolean; name: Buffer; systemUse?: Buffer }): Buffer {
  const nameLength = options.name.length;
  const pad = nameLength % 2 === 0 ? 1 : 0;
  const su = options.systemUse ?? Buffer.alloc(0);
  const length = 33 + nameLength + pad + su.length;
  const r = Buffer.alloc(length + (length % 2));
  r[0] = r.length;
  r.writeUInt32LE(options.extent, 2);
  r.writeUInt32LE(options.size, 10);
  Buffer.from([125, 11, 28, 19, 45, 7, 0]).copy(r, 18); // "now": 2025-11-28 19:45:07
  r[25] = options.directory ? 2 : 0;
  r[32] = nameLength;
  options.name.copy(r, 33);
  su.copy(r, 33 + nameLength + pad);
  return r;
}

/** Rock Ridge TF with modify, access and attributes times in the short form. */
function tf(): Buffer {
  const entry = Buffer.alloc(5 + 3 * 7);
  entry.write('TF', 0, 'latin1');
  entry[2] = entry.length;
  entry[3] = 1;
  entry[4] = 2 | 4 | 8;
  for (let i = 0; i < 3; i++) Buffer.from([125, 11, 28, 19, 45, 7 + i, 0]).copy(entry, 5 + i * 7);
  return entry;
}

function syntheticIso(): Buffer {
  const iso = Buffer.alloc(24 * S);
  const pvd = 16 * S;
  iso[pvd] = 1;
  iso.write('CD001', pvd + 1, 'latin1');
  for (const offset of [813, 830, 847, 864]) iso.write('2025112819450700\0', pvd + offset, 'latin1');
  record({ extent: 20, size: S, directory: true, name: Buffer.from([0]) }).copy(iso, pvd + 156);
  iso[17 * S] = 255;
  iso.write('CD001', 17 * S + 1, 'latin1');
  // Root directory at block 20: ".", "..", a subdirectory "BOOT" at 21, a file "INIT.;1" with a TF entry.
  let at = 20 * S;
  for (const r of [
    record({ extent: 20, size: S, directory: true, name: Buffer.from([0]), systemUse: tf() }),
    record({ extent: 20, size: S, directory: true, name: Buffer.from([1]) }),
    record({ extent: 21, size: S, directory: true, name: Buffer.from('BOOT') }),
    record({ extent: 22, size: 5, directory: false, name: Buffer.from('INIT.;1'), systemUse: tf() }),
  ]) {
    r.copy(iso, at);
    at += r.length;
  }
  at = 21 * S;
  for (const r of [
    record({ extent: 21, size: S, directory: true, name: Buffer.from([0]) }),
    record({ extent: 20, size: S, directory: true, name: Buffer.from([1]) }),
    record({ extent: 23, size: 9, directory: false, name: Buffer.from('GRUB.CFG;1'), systemUse: tf() }),
  ]) {
    r.copy(iso, at);
    at += r.length;
  }
  return iso;
}

describe('ISO dates', () => {
  it('encodes the epoch in both ISO 9660 date forms, in UTC', () => {
    assert.deepEqual([...shortDate(EPOCH)], [124, 1, 1, 0, 0, 0, 0]);
    assert.equal(longDate(EPOCH).toString('latin1', 0, 16), '2024010100000000');
    assert.equal(longDate(EPOCH)[16], 0);
  });

  it('rewrites volume descriptor dates, every directory record and every Rock Ridge TF time', () => {
    const iso = syntheticIso();
    const records = fixIsoDates(iso, EPOCH);
    assert.equal(records, 7, 'root: 4 records, BOOT: 3');
    const pvd = 16 * S;
    for (const offset of [813, 830, 864]) assert.equal(iso.toString('latin1', pvd + offset, pvd + offset + 16), '2024010100000000');
    assert.equal(iso.toString('latin1', pvd + 847, pvd + 847 + 16), '0000000000000000', 'expiration: not specified');
    const wallClock = Buffer.from([125, 11, 28, 19, 45]);
    assert.equal(iso.indexOf(wallClock), -1, 'no trace of the wall clock remains');
    assert.equal(iso.indexOf(Buffer.from([124, 1, 1, 0, 0, 0, 0]), 20 * S) > 0, true);
  });

  it('refuses an image without volume descriptors', () => {
    assert.throws(() => fixIsoDates(Buffer.alloc(20 * S), EPOCH), /no volume descriptor at block 16/);
  });

  it('is idempotent for any epoch, and a damaged image is refused in its own words, never a crash or a hang (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (epoch) => {
        const once = syntheticIso();
        fixIsoDates(once, epoch);
        const twice = Buffer.from(once);
        fixIsoDates(twice, epoch);
        assert.ok(twice.equals(once));
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 16 * S, max: 24 * S - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 16 }), (changes) => {
        const iso = syntheticIso();
        for (const [at, byte] of changes) iso[at] = byte;
        try {
          fixIsoDates(iso, EPOCH);
        } catch (error) {
          assert.match(String(error), /cannot fix the ISO's dates: /);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
