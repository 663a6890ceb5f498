import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import tarStream from 'tar-stream';
import { extractArchive } from '../../src/engine/archive.js';
import { Gopid1Error } from '../../src/errors.js';
import { grubKernelArguments } from '../../src/iso/grub.js';
import { inspectElf } from '../../src/go/elf.js';
import { writeNewc, type CpioEntry } from '../../src/initramfs/newc.js';
import { LineSplitter } from '../../src/lines.js';
import { ConsoleWatcher, type ConsoleVerdict } from '../../src/qemu/console.js';

/**
 * Property tests (fast-check): for inputs nobody wrote by hand, what must always hold. Bounded: each property runs
 * a fixed number of cases, all of them together well under a minute.
 */

/** A boot log as a console gives it: firmware, GRUB, kernel lines, the init's and the program's, CRLF, UTF-8. */
const BOOT_LOG = [
  'SeaBIOS (version 1.16.2-debian-1.16.2-1)',
  "Booting `hello'",
  '[    0.000000] Linux version 6.12.117 (gopid1@gopid1)',
  '[    0.685000] Run /init as init process',
  'gopid1: mounted /proc, /sys, /dev, /tmp, /run',
  'Grüße aus dem Programm, 世界 🚀',
  'Hello from Golang',
  'progress 10%\rprogress 100%',
  'Hello from Golang',
  'gopid1: app exited with status 0',
]
  .map((line) => `${line}\r\n`)
  .join('');

function replay(chunks: Buffer[]): { lines: string[]; verdicts: (ConsoleVerdict | undefined)[] } {
  const watcher = new ConsoleWatcher({ expect: /Hello from Golang/, expectCount: 2, bootloader: 'grub', supervised: true });
  const lines: string[] = [];
  const verdicts: (ConsoleVerdict | undefined)[] = [];
  const splitter = new LineSplitter((line) => {
    lines.push(line);
    verdicts.push(watcher.feed(line, 0));
  });
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return { lines, verdicts };
}

/** Cuts `bytes` at the given offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(last, point));
    last = point;
  }
  return chunks;
}

describe('properties', () => {
  it('the console watcher sees the same lines and verdicts however the console is chunked', () => {
    const bytes = Buffer.from(BOOT_LOG, 'utf8');
    const whole = replay([bytes]);
    assert.deepEqual(whole.verdicts.filter(Boolean).map((verdict) => verdict?.kind), ['expected', 'app-exited'], 'the second "Hello from Golang" meets --expect-count 2');
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 80 }), (offsets) => {
        assert.deepEqual(replay(cut(bytes, offsets)), whole);
      }),
      { numRuns: 300 },
    );
  });

  it('the ELF reader answers random and mutated files with a verdict or a gopid1 error, never anything else', () => {
    const valid = Buffer.alloc(512);
    valid.writeUInt32BE(0x7f454c46, 0);
    valid[4] = 2;
    valid[5] = 1;
    valid.writeUInt16LE(2, 16);
    valid.writeUInt16LE(62, 18);
    valid.writeBigUInt64LE(0x400100n, 24);
    valid.writeBigUInt64LE(64n, 32);
    valid.writeUInt16LE(56, 54);
    valid.writeUInt16LE(1, 56);
    valid.writeUInt32LE(1, 64);
    valid.writeBigUInt64LE(0x400000n, 64 + 16);
    valid.writeBigUInt64LE(512n, 64 + 32);
    valid.writeBigUInt64LE(512n, 64 + 40);
    const mutated = fc.tuple(fc.array(fc.tuple(fc.nat({ max: 511 }), fc.nat({ max: 255 })), { maxLength: 12 }), fc.nat({ max: 512 })).map(([changes, length]) => {
      const copy = Buffer.from(valid);
      for (const [at, byte] of changes) copy[at] = byte;
      return copy.subarray(0, length);
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)), mutated), (file) => {
        try {
          inspectElf(file);
        } catch (error) {
          assert.ok(error instanceof Gopid1Error, `threw ${String(error)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  const hasCpio = ((): boolean => {
    try {
      execFileSync('cpio', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it('newc archives of random trees list back through GNU cpio with the same names, types and modes', { skip: hasCpio ? false : 'GNU cpio is not installed (make setup installs it)' }, () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._ -]{0,11}$/);
    const entry = fc.record({
      dirs: fc.array(segment, { minLength: 0, maxLength: 2 }),
      name: segment,
      kind: fc.constantFrom('file', 'dir', 'symlink'),
      mode: fc.constantFrom(0o644, 0o755, 0o600, 0o700),
      data: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { maxLength: 12, selector: (e) => [...e.dirs, e.name].join('/') }), (picked) => {
        const entries = new Map<string, CpioEntry>();
        for (const e of picked) {
          e.dirs.forEach((_, i) => {
            const dir = e.dirs.slice(0, i + 1).join('/');
            if (!entries.has(dir)) entries.set(dir, { type: 'dir', name: dir, mode: 0o755 });
          });
          const name = [...e.dirs, e.name].join('/');
          if (entries.has(name)) continue;
          if (e.kind === 'file') entries.set(name, { type: 'file', name, mode: e.mode, data: Buffer.from(e.data) });
          else if (e.kind === 'dir') entries.set(name, { type: 'dir', name, mode: e.mode });
          else entries.set(name, { type: 'symlink', name, target: 'elsewhere' });
        }
        // A directory must not also be a file's name: keep the first of each.
        const list = [...entries.values()].filter((candidate) => ![...entries.values()].some((other) => other.type !== 'dir' && candidate.name.startsWith(`${other.name}/`)));
        const listing = execFileSync('cpio', ['-t', '-v', '--quiet'], { input: writeNewc(list, { mtime: 1704067200 }) }).toString();
        const lines = listing.replace(/\n$/, '').split('\n');
        const names = lines
          .filter(Boolean)
          .map((line) => line.replace(/ -> elsewhere$/, '').replace(/^\S+\s+\d+\s+\S+\s+\S+\s+\d+\s+\S+\s+\d+\s+\S+\s+/, ''));
        assert.deepEqual(names.sort(), list.map((e) => e.name).sort());
        for (const line of lines.filter(Boolean)) {
          const name = line.replace(/ -> elsewhere$/, '').replace(/^\S+\s+\d+\s+\S+\s+\S+\s+\d+\s+\S+\s+\d+\s+\S+\s+/, '');
          const e = list.find((candidate) => candidate.name === name);
          const kind = e?.type === 'dir' ? 'd' : e?.type === 'symlink' ? 'l' : '-';
          assert.equal(line[0], kind, line);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('extracting random archives never writes outside the destination', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'gopid1-prop-tar-'));
    const segment = fc.constantFrom('a', 'b', '..', '.', 'c d', 'x');
    const header = fc.record({
      name: fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
      absolute: fc.boolean(),
      type: fc.constantFrom('file', 'directory', 'symlink', 'link'),
      linkname: fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(header, { minLength: 1, maxLength: 6 }), async (headers) => {
        const dir = path.join(root, String(run++));
        const dest = path.join(dir, 'dest');
        mkdirSync(dir);
        const pack = tarStream.pack();
        for (const h of headers) {
          const name = `${h.absolute ? '/tmp/gopid1-prop-escape/' : ''}${h.name}`;
          if (h.type === 'file') pack.entry({ name, mode: 0o644 }, 'data');
          else if (h.type === 'directory') pack.entry({ name, type: 'directory', mode: 0o755 });
          else pack.entry({ name, type: h.type, linkname: h.linkname, mode: 0o644 });
        }
        pack.finalize();
        await extractArchive(Readable.from(pack as unknown as AsyncIterable<Buffer>), dest, 'random tar').catch((error: unknown) => {
          if (!(error instanceof Error)) throw error;
        });
        assert.deepEqual(readdirSync(dir), existsSync(dest) ? ['dest'] : [], 'nothing beside the destination');
        assert.equal(existsSync('/tmp/gopid1-prop-escape'), false);
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  });

  it('kernel parameters survive GRUB quoting word for word, and what GRUB would change is refused', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 });
    fc.assert(
      fc.property(printable, (cmdline) => {
        if (/["'\\]/.test(cmdline)) {
          assert.throws(() => grubKernelArguments(cmdline), /quotes or backslashes/);
          return;
        }
        const quoted = grubKernelArguments(cmdline);
        // GRUB's reading of single-quoted words: everything between the quotes, literally.
        const words = [...quoted.matchAll(/'([^']*)'/g)].map((match) => match[1]);
        assert.equal(quoted, words.map((word) => `'${word}'`).join(' '));
        assert.deepEqual(words, cmdline.split(/\s+/).filter(Boolean));
      }),
      { numRuns: 1000 },
    );
  });
});
