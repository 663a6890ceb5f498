import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ContentCache, hashKey } from '../../src/artifacts/cache.js';

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
