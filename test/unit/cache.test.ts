import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ContentCache, hashKey } from '../../src/artifacts/cache.js';
import { goCacheKey } from '../../src/go/go-cache.js';

describe('content-addressed cache', () => {
  it('hashes keys independently of property order', () => {
    assert.equal(hashKey({ a: 1, b: [1, { c: 2, d: 3 }] }), hashKey({ b: [1, { d: 3, c: 2 }], a: 1 }));
    assert.notEqual(hashKey({ a: 1 }), hashKey({ a: 2 }));
  });

  it('stores copies, serves them verified, and takes a damaged entry for a miss until a put replaces it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-cache-'));
    const cache = new ContentCache(path.join(dir, 'cache'));
    const source = path.join(dir, 'bzImage');
    writeFileSync(source, 'kernel bytes');
    assert.equal(await cache.get('kernel', 'k1'), undefined);
    const stored = await cache.put('kernel', 'k1', { bzImage: source }, { release: '6.12' });
    writeFileSync(source, 'changed afterwards');
    const hit = await cache.get<{ release: string }>('kernel', 'k1');
    assert.equal(hit?.meta.release, '6.12');
    assert.equal(hit?.files.bzImage, stored.files.bzImage);
    writeFileSync(stored.files.bzImage ?? '', 'bit rot');
    assert.equal(await cache.get('kernel', 'k1'), undefined, 'a corrupted entry is a miss');
    assert.equal(await cache.get('kernel', 'k1'), undefined, 'and stays one');
    writeFileSync(source, 'kernel bytes');
    const rebuilt = await cache.put('kernel', 'k1', { bzImage: source }, { release: '6.12' });
    assert.equal(readFileSync(rebuilt.files.bzImage ?? '', 'utf8'), 'kernel bytes', 'the next put replaces it');
  });

  it('never serves a file outside its entry, or a link, whatever entry.json says', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-cache-'));
    const cache = new ContentCache(path.join(dir, 'cache'));
    const outside = path.join(dir, 'hostname');
    writeFileSync(outside, 'secret host\n');
    const digest = createHash('sha256').update('secret host\n').digest('hex');
    const crafted = path.join(dir, 'cache', 'kernel', 'k2');
    mkdirSync(crafted, { recursive: true });
    writeFileSync(path.join(crafted, 'entry.json'), JSON.stringify({ files: { '../../hostname': digest }, meta: {} }));
    assert.equal(await cache.get('kernel', 'k2'), undefined, 'a name with ../ is refused');
    symlinkSync(outside, path.join(crafted, 'bzImage'));
    writeFileSync(path.join(crafted, 'entry.json'), JSON.stringify({ files: { bzImage: digest }, meta: {} }));
    assert.equal(await cache.get('kernel', 'k2'), undefined, 'a link is refused');
    await assert.rejects(cache.put('kernel', 'k3', { '../x': outside }, {}), /invalid cache entry file name/);
  });

  it('8 writers and 8 readers of one key: every read is a whole entry or a miss, never an error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-cache-'));
    const root = path.join(dir, 'cache');
    const source = path.join(dir, 'bzImage');
    writeFileSync(source, Buffer.alloc(256 * 1024, 7));
    const seen: string[] = [];
    const writer = async () => {
      for (let round = 0; round < 5; round++) await new ContentCache(root).put('kernel', 'same', { bzImage: source }, { round });
    };
    const reader = async () => {
      for (let round = 0; round < 20; round++) {
        const hit = await new ContentCache(root).get('kernel', 'same');
        if (hit) {
          const copy = path.join(dir, `copy-${round}-${Math.random()}`);
          await copyFile(hit.files.bzImage ?? '', copy);
          seen.push(readFileSync(copy).equals(readFileSync(source)) ? 'whole' : 'damaged');
        }
      }
    };
    await Promise.all([...Array.from({ length: 8 }, writer), ...Array.from({ length: 8 }, reader)]);
    assert.ok(!seen.includes('damaged'));
    assert.ok((await new ContentCache(root).get('kernel', 'same')) !== undefined);
  });
});

describe('the Go stage\'s cache key: what goes into the binary, nothing else', () => {
  const builder = { tag: 'gopid1-go-builder:abc', id: 'sha256:1', packages: ['golang-1.24-go=1.24.4-1'], built: false };
  const app = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-gokey-'));
    writeFileSync(path.join(dir, 'go.mod'), 'module example.com/k\n\ngo 1.21\n');
    writeFileSync(path.join(dir, 'main.go'), 'package main\n\nfunc main() {}\n');
    mkdirSync(path.join(dir, 'dist'));
    return dir;
  };
  const options = (dir: string) => ({ app: { dir }, exclude: ['dist'], arch: 'amd64', package: '.', cgo: false, strip: true, sourceDateEpoch: 1, outName: 'init' });

  it('changes with the source, the options and the builder; not with the out dir, .git or the file\'s time', async () => {
    const dir = app();
    const base = await goCacheKey(options(dir), builder);
    writeFileSync(path.join(dir, 'dist', 'bzImage'), 'output of an earlier build');
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    utimesSync(path.join(dir, 'main.go'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    assert.equal(await goCacheKey(options(dir), builder), base);
    assert.notEqual(await goCacheKey({ ...options(dir), tags: ['timetzdata'] }, builder), base);
    assert.notEqual(await goCacheKey({ ...options(dir), strip: false }, builder), base);
    assert.notEqual(await goCacheKey({ ...options(dir), test: true }, builder), base);
    assert.notEqual(await goCacheKey(options(dir), { ...builder, packages: ['golang-1.24-go=1.24.5-1'] }), base);
    writeFileSync(path.join(dir, 'main.go'), 'package main\n\nfunc main() { println() }\n');
    assert.notEqual(await goCacheKey(options(dir), builder), base);
    writeFileSync(path.join(dir, 'main.go'), 'package main\n\nfunc main() {}\n');
    chmodSync(path.join(dir, 'main.go'), 0o755);
    assert.notEqual(await goCacheKey(options(dir), builder), base, 'a mode the builder would see');
  });
});
