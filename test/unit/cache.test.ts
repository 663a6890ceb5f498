import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ContentCache, hashKey } from '../../src/artifacts/cache.js';

describe('content-addressed cache', () => {
  it('hashes keys independently of property order', () => {
    assert.equal(hashKey({ a: 1, b: [1, { c: 2, d: 3 }] }), hashKey({ b: [1, { d: 3, c: 2 }], a: 1 }));
    assert.notEqual(hashKey({ a: 1 }), hashKey({ a: 2 }));
  });

  it('stores copies, serves them verified, and drops a damaged entry', async () => {
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
    assert.equal(await cache.get('kernel', 'k1'), undefined, 'and it is gone');
  });
});
