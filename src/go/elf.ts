import type { Arch } from '../plan/vocabulary.js';
import { Gopid1Error } from '../errors.js';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
/** The ELF machine of each architecture, and how people call it. */
const MACHINES = { amd64: [EM_X86_64, 'x86-64'], arm64: [EM_AARCH64, 'aarch64 (arm64)'] } as const;

export interface ElfFacts {
  class: 32 | 64;
  machine: number;
  /** "exec" for ET_EXEC, "dyn" for ET_DYN (PIE), else the raw type. */
  type: 'exec' | 'dyn' | string;
  /** PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2 */
  interpreter?: string;
  /** DT_NEEDED libraries. */
  needed: string[];
  /** The entry point, and whether a PT_LOAD segment holds it (ELF64 only). */
  entry?: bigint;
  entryLoaded?: boolean;
  /** PT_LOAD segments (ELF64 only). */
  loads?: number;
}

function fail(message: string, hint: string): never {
  throw new Gopid1Error('NOT_STATIC', message, { step: 'go: check binary', hint });
}

function cString(buffer: Buffer, offset: number): string {
  const end = buffer.indexOf(0, offset);
  return buffer.subarray(offset, end === -1 ? buffer.length : end).toString('latin1');
}

/** Reads what matters for a PID 1 from an ELF file: class, machine, type, interpreter and needed libraries. */
export function inspectElf(buffer: Buffer): ElfFacts {
  if (buffer.length < 64 || buffer.readUInt32BE(0) !== 0x7f454c46) {
    fail('the built program is not an ELF executable', 'Build a Go main package for linux.');
  }
  const elfClass = buffer[4] === 2 ? 64 : buffer[4] === 1 ? 32 : fail('the built program has an unknown ELF class', 'Build for linux/amd64.');
  if (buffer[5] !== 1) fail('the built program is big-endian', 'Build for linux/amd64.');
  const typeCode = buffer.readUInt16LE(16);
  const machine = buffer.readUInt16LE(18);
  const type = typeCode === 2 ? 'exec' : typeCode === 3 ? 'dyn' : `type ${typeCode}`;
  if (elfClass !== 64) return { class: 32, machine, type, needed: [] };

  const entry = buffer.readBigUInt64LE(24);
  const phoff = Number(buffer.readBigUInt64LE(32));
  const phentsize = buffer.readUInt16LE(54);
  const phnum = buffer.readUInt16LE(56);
  if (phentsize !== 56 || phnum === 0 || phnum === 0xffff || phoff + phnum * phentsize > buffer.length) {
    fail(`the built program has a malformed ELF program header table (${phnum} entries of ${phentsize} bytes at ${phoff})`, 'Rebuild it; if it persists, the Go toolchain in the builder is broken (`gopid1 clean --images`).');
  }
  const loads: { vaddr: bigint; offset: bigint; filesz: bigint; memsz: bigint }[] = [];
  let interpreter: string | undefined;
  let dynamic: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > buffer.length) fail('the built program has a truncated ELF header table', 'Rebuild it.');
    const ptype = buffer.readUInt32LE(at);
    const offset = buffer.readBigUInt64LE(at + 8);
    const vaddr = buffer.readBigUInt64LE(at + 16);
    const filesz = buffer.readBigUInt64LE(at + 32);
    const memsz = buffer.readBigUInt64LE(at + 40);
    if (ptype === PT_LOAD) {
      if (offset + filesz > BigInt(buffer.length)) fail(`the built program is truncated: a loadable segment runs to byte ${offset + filesz} of ${buffer.length}`, 'Rebuild it (a full disk or an interrupted copy can cut a file short).');
      loads.push({ vaddr, offset, filesz, memsz });
    }
    if (ptype === PT_INTERP) interpreter = cString(buffer, Number(offset));
    if (ptype === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
  }

  const needed: string[] = [];
  if (dynamic) {
    const neededOffsets: bigint[] = [];
    let strtab: bigint | undefined;
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size && at + 16 <= buffer.length; at += 16) {
      const tag = buffer.readBigInt64LE(at);
      const value = buffer.readBigUInt64LE(at + 8);
      if (tag === 0n) break;
      if (tag === DT_NEEDED) neededOffsets.push(value);
      if (tag === DT_STRTAB) strtab = value;
    }
    // DT_STRTAB is an address; map it to a file offset through the PT_LOAD segment that holds it.
    const segment = strtab === undefined ? undefined : loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
    for (const offset of neededOffsets) {
      needed.push(segment && strtab !== undefined ? cString(buffer, Number(strtab - segment.vaddr + segment.offset + offset)) : `#${offset}`);
    }
  }
  const entryLoaded = loads.some((load) => entry >= load.vaddr && entry < load.vaddr + (load.memsz > load.filesz ? load.memsz : load.filesz));
  return { class: 64, machine, type, ...(interpreter !== undefined ? { interpreter } : {}), needed, entry, entryLoaded, loads: loads.length };
}

/**
 * Refuses a binary that cannot be /init of an initramfs with nothing else in it: not for the machine's
 * architecture (x86-64 for amd64, aarch64 for arm64), or linked dynamically (PT_INTERP or DT_NEEDED), which is what
 * cgo without static linking produces.
 */
export function checkStaticInit(buffer: Buffer, options: { cgo: boolean; arch?: Arch }): ElfFacts {
  const facts = inspectElf(buffer);
  const arch = options.arch ?? 'amd64';
  const [machine, name] = MACHINES[arch];
  if (facts.class !== 64 || facts.machine !== machine) {
    const found = Object.values(MACHINES).find(([m]) => m === facts.machine)?.[1];
    fail(`the built program is not ${name} (ELF${facts.class}, machine ${found ?? facts.machine})`, `This is an ${arch} machine: its program must be built with GOARCH=${arch} (gopid1 build --arch ${arch} does).`);
  }
  if (facts.type !== 'exec' && facts.type !== 'dyn') {
    fail(`the built program is not an executable (ELF ${facts.type === 'type 1' ? 'relocatable object' : facts.type === 'type 4' ? 'core dump' : facts.type})`, 'Build a Go main package (package main with func main).');
  }
  if (!facts.loads || !facts.entryLoaded) {
    fail(facts.loads ? 'the built program\'s entry point lies outside its loadable segments' : 'the built program has no loadable segment', 'Rebuild it; the kernel could not run it as /init.');
  }
  if (facts.interpreter !== undefined || facts.needed.length > 0) {
    const what = [
      ...(facts.interpreter !== undefined ? [`interpreter ${facts.interpreter}`] : []),
      ...(facts.needed.length > 0 ? [`libraries ${facts.needed.join(', ')}`] : []),
    ].join(' and ');
    fail(
      `the built program is dynamically linked (${what}); the initramfs holds nothing but /init, so it cannot start`,
      options.cgo
        ? 'Static cgo linking did not take effect: make sure the C code links statically (no -ldflags overriding -extldflags=-static), or drop cgo.'
        : 'This usually comes from cgo. Build without cgo (the default, CGO_ENABLED=0), or pass --cgo for a fully static cgo build.',
    );
  }
  return facts;
}
