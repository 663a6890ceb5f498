import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import tarStream from 'tar-stream';
import { extractArchive, packDirectory, packFiles, unsafeEntryReason } from '../../src/engine/archive.js';
import { BUILDER_UID } from '../../src/engine/labels.js';
import { Gopid1Error } from '../../src/errors.js';
import { packageRoot } from '../../src/paths.js';

type Entry = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory' | 'character-device'; linkname?: string; data?: string };

function crafted(entries: Entry[]): Readable {
  const pack = tarStream.pack();
  for (const entry of entries) {
    const { data, ...header } = entry;
    pack.entry({ ...header, mode: 0o644 }, data ?? '');
  }
  pack.finalize();
  return Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
}

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'gopid1-archive-'));
}

describe('archive entry safety', () => {
  it('accepts ordinary relative entries and links that stay inside', () => {
    assert.equal(unsafeEntryReason({ name: 'out/init' }), undefined);
    assert.equal(unsafeEntryReason({ name: 'a/b/link', type: 'symlink', linkname: '../c' }), undefined);
    assert.equal(unsafeEntryReason({ name: 'hard', type: 'link', linkname: 'out/init' }), undefined);
  });

  it('refuses absolute paths, "..", links out of the destination, and device nodes', () => {
    assert.match(unsafeEntryReason({ name: '/etc/passwd' }) ?? '', /absolute/);
    assert.match(unsafeEntryReason({ name: 'out/../../x' }) ?? '', /\.\./);
    assert.match(unsafeEntryReason({ name: 'evil', type: 'symlink', linkname: '/etc' }) ?? '', /absolute/);
    assert.match(unsafeEntryReason({ name: 'a/evil', type: 'symlink', linkname: '../../etc' }) ?? '', /outside/);
    assert.match(unsafeEntryReason({ name: 'evil', type: 'link', linkname: '../x' }) ?? '', /outside/);
    assert.match(unsafeEntryReason({ name: 'console', type: 'character-device' }) ?? '', /not allowed/);
  });
});

describe('extractArchive', () => {
  it('extracts a safe archive', async () => {
    const dest = tempDir();
    const names = await extractArchive(packFiles([{ name: 'out/init', data: 'ELF' }]), dest, 'test');
    assert.deepEqual(names, ['out/', 'out/init'], 'the parent directory has its own entry (owned by the builder\'s user)');
    assert.equal(readFileSync(path.join(dest, 'out', 'init'), 'utf8'), 'ELF');
  });

  for (const [label, entries] of [
    ['a ".." path', [{ name: '../escaped', data: 'x' }]],
    ['an absolute path', [{ name: '/tmp/gopid1-escaped-absolute', data: 'x' }]],
    ['a symlink leading out', [{ name: 'link', type: 'symlink', linkname: '../../../../etc' }]],
    // Each link stays inside on its own; through the first, the second leads out: tar-fs refuses it, as UNSAFE_ARCHIVE too.
    ['a chain of symlinks leading out', [{ name: 'sub', type: 'directory' }, { name: 'sub/up', type: 'symlink', linkname: '..' }, { name: 'sub/up/escaped', type: 'symlink', linkname: '..' }]],
  ] as [string, Entry[]][]) {
    it(`refuses a crafted tar with ${label} and writes nothing outside`, async () => {
      const parent = tempDir();
      const dest = path.join(parent, 'dest');
      await assert.rejects(
        extractArchive(crafted([{ name: 'ok', data: 'fine' }, ...entries]), dest, 'crafted tar'),
        (error: unknown) => error instanceof Gopid1Error && error.code === 'UNSAFE_ARCHIVE' && error.logTail.length === 1,
      );
      assert.equal(existsSync(path.join(parent, 'escaped')), false);
      assert.equal(existsSync('/tmp/gopid1-escaped-absolute'), false);
      assert.equal(existsSync(path.join(dest, 'link')), false);
    });
  }
});

describe('packDirectory', () => {
  it('normalises owners and times, applies the prefix and skips subtrees', async () => {
    const root = path.join(packageRoot, 'examples', 'hello');
    const extract = tarStream.extract();
    const seen: { name: string; uid: number; mtime: number }[] = [];
    extract.on('entry', (header, stream, next) => {
      seen.push({ name: header.name, uid: header.uid ?? -1, mtime: header.mtime?.getTime() ?? -1 });
      stream.on('end', next);
      stream.resume();
    });
    const done = new Promise<void>((resolve) => extract.on('finish', () => resolve()));
    packDirectory(root, { prefix: 'src', skip: (p) => p === 'go.mod' }).pipe(extract as unknown as NodeJS.WritableStream);
    await done;
    assert.ok(seen.some((e) => e.name === 'src/main.go'));
    assert.ok(!seen.some((e) => e.name.endsWith('go.mod')));
    assert.ok(seen.every((e) => e.uid === BUILDER_UID && e.mtime === 0));
  });
});
