import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Gopid1Error } from '../../src/errors.js';
import { checkStaticInit, inspectElf } from '../../src/go/elf.js';

/** A minimal ELF64 little-endian executable: header, program headers, and optional interp / dynamic data. */
function makeElf(options: { machine?: number; interp?: string; needed?: string[]; elfClass?: 1 | 2; type?: number; entry?: bigint }): Buffer {
  const phnum = 1 + (options.interp ? 1 : 0) + (options.needed ? 1 : 0);
  const phoff = 64;
  const dataStart = phoff + phnum * 56;
  const buffer = Buffer.alloc(4096);
  buffer.writeUInt32BE(0x7f454c46, 0);
  buffer[4] = options.elfClass ?? 2;
  buffer[5] = 1;
  buffer[6] = 1;
  buffer.writeUInt16LE(options.type ?? (options.needed ? 3 : 2), 16);
  buffer.writeUInt16LE(options.machine ?? 62, 18);
  buffer.writeBigUInt64LE(BigInt(phoff), 32);
  buffer.writeUInt16LE(56, 54);
  buffer.writeUInt16LE(phnum, 56);
  const vaddrBase = 0x400000n;
  buffer.writeBigUInt64LE(options.entry ?? vaddrBase + 0x100n, 24);
  let ph = phoff;
  const header = (type: number, offset: number, size: number): void => {
    buffer.writeUInt32LE(type, ph);
    buffer.writeBigUInt64LE(BigInt(offset), ph + 8);
    buffer.writeBigUInt64LE(vaddrBase + BigInt(offset), ph + 16);
    buffer.writeBigUInt64LE(BigInt(size), ph + 32);
    buffer.writeBigUInt64LE(BigInt(size), ph + 40);
    ph += 56;
  };
  header(1, 0, 4096); // PT_LOAD of the whole file, vaddr = base + offset
  let cursor = dataStart;
  if (options.interp) {
    buffer.write(`${options.interp}\0`, cursor, 'latin1');
    header(3, cursor, options.interp.length + 1);
    cursor += 64;
  }
  if (options.needed) {
    const strtab = cursor;
    let strCursor = 1;
    const offsets: number[] = [];
    for (const name of options.needed) {
      buffer.write(`${name}\0`, strtab + strCursor, 'latin1');
      offsets.push(strCursor);
      strCursor += name.length + 1;
    }
    cursor += 256;
    const dynamic = cursor;
    let d = dynamic;
    for (const offset of offsets) {
      buffer.writeBigInt64LE(1n, d);
      buffer.writeBigUInt64LE(BigInt(offset), d + 8);
      d += 16;
    }
    buffer.writeBigInt64LE(5n, d);
    buffer.writeBigUInt64LE(vaddrBase + BigInt(strtab), d + 8);
    d += 16;
    d += 16; // DT_NULL
    header(2, dynamic, d - dynamic);
  }
  return buffer;
}

describe('ELF check of the built program', () => {
  it('accepts a static x86-64 executable', () => {
    const facts = checkStaticInit(makeElf({}), { cgo: false });
    assert.equal(facts.machine, 62);
    assert.equal(facts.type, 'exec');
    assert.deepEqual(facts.needed, []);
  });

  it('reads PT_INTERP and DT_NEEDED', () => {
    const facts = inspectElf(makeElf({ interp: '/lib64/ld-linux-x86-64.so.2', needed: ['libc.so.6', 'libpthread.so.0'] }));
    assert.equal(facts.interpreter, '/lib64/ld-linux-x86-64.so.2');
    assert.deepEqual(facts.needed, ['libc.so.6', 'libpthread.so.0']);
  });

  it('refuses a dynamically linked binary and says cgo is the likely cause', () => {
    assert.throws(
      () => checkStaticInit(makeElf({ interp: '/lib64/ld-linux-x86-64.so.2' }), { cgo: false }),
      (error: unknown) => error instanceof Gopid1Error && error.code === 'NOT_STATIC' && /dynamically linked/.test(error.message) && /--cgo/.test(error.hint ?? ''),
    );
  });

  it('refuses DT_NEEDED even without an interpreter', () => {
    assert.throws(() => checkStaticInit(makeElf({ needed: ['libc.so.6'] }), { cgo: true }), /libraries libc\.so\.6/);
  });

  it('refuses what is no executable: object files, core dumps, no loadable segment, a bad header table, a truncated file', () => {
    assert.throws(() => checkStaticInit(makeElf({ type: 1 }), { cgo: false }), /not an executable \(ELF relocatable object\)/);
    assert.throws(() => checkStaticInit(makeElf({ type: 4 }), { cgo: false }), /not an executable \(ELF core dump\)/);
    assert.throws(() => checkStaticInit(makeElf({ entry: 0x900000n }), { cgo: false }), /entry point lies outside its loadable segments/);
    const noLoad = makeElf({});
    noLoad.writeUInt32LE(6, 64); // the only program header is PT_PHDR, not PT_LOAD
    assert.throws(() => checkStaticInit(noLoad, { cgo: false }), /has no loadable segment/);
    const badTable = makeElf({});
    badTable.writeUInt16LE(0, 54);
    badTable.writeUInt16LE(0xffff, 56);
    assert.throws(() => checkStaticInit(badTable, { cgo: false }), /malformed ELF program header table/);
    assert.throws(() => checkStaticInit(makeElf({}).subarray(0, 2048), { cgo: false }), /truncated: a loadable segment runs to byte 4096 of 2048/);
  });

  it('wants the machine\'s architecture: x86-64 for amd64, aarch64 for arm64, and names what it found', () => {
    assert.equal(checkStaticInit(makeElf({ machine: 183 }), { cgo: false, arch: 'arm64' }).machine, 183);
    assert.throws(() => checkStaticInit(makeElf({ machine: 62 }), { cgo: false, arch: 'arm64' }), /not aarch64 \(arm64\) \(ELF64, machine x86-64\)/);
    assert.throws(() => checkStaticInit(makeElf({ machine: 183 }), { cgo: false, arch: 'amd64' }), (error: unknown) => error instanceof Gopid1Error && /not x86-64 \(ELF64, machine aarch64/.test(error.message) && /GOARCH=amd64/.test(error.hint ?? ''));
  });

  it('refuses other architectures, 32-bit, and non-ELF files', () => {
    assert.throws(() => checkStaticInit(makeElf({ machine: 183 }), { cgo: false }), /not x86-64/);
    assert.throws(() => checkStaticInit(makeElf({ machine: 40 }), { cgo: false, arch: 'arm64' }), /not aarch64 \(arm64\) \(ELF64, machine 40\)/);
    assert.throws(() => checkStaticInit(makeElf({ elfClass: 1 }), { cgo: false }), /not x86-64 \(ELF32/);
    assert.throws(() => checkStaticInit(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(128)), { cgo: false }), /not an ELF executable/);
  });

  it('finds the interpreter of a real dynamic binary of this host', { skip: existsSync('/bin/ls') ? false : 'no /bin/ls' }, () => {
    const facts = inspectElf(readFileSync('/bin/ls'));
    assert.match(facts.interpreter ?? '', /ld-linux/);
    assert.ok(facts.needed.includes('libc.so.6'), `needed: ${facts.needed.join(', ')}`);
  });
});
