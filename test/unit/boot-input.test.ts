import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { boot, isGopid1Error } from '../../src/index.js';

describe('boot: input refused before anything starts', () => {
  it('a --timeout longer than a Node timer holds (2^31 - 1 ms) is refused, not fired at once', async () => {
    await assert.rejects(boot({ dir: '/nonexistent', timeoutSeconds: 2_500_000 }), (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && /--timeout must be at most 2147483 s/.test(error.message));
  });

  it('--data-disk for a machine built without one is refused: nothing in it would mount the disk', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-boot-input-'));
    const manifest = { schema: 1, name: 'plain', boot: { cmdline: 'console=ttyS0', net: false }, init: { mode: 'supervise' }, artifacts: { bzImage: { file: 'bzImage' }, initramfs: { file: 'initramfs.cpio.zst' } } };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(boot({ dir, dataDisk: path.join(dir, 'data.img') }), (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && /^plain was built without --data-disk/.test(error.message) && /--data-disk SIZE/.test(error.hint ?? ''));
  });
});
