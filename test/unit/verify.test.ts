import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Manifest } from '../../src/artifacts/manifest.js';
import { compareArtifacts, describeOffset, firstDifference, packageChanges } from '../../src/api/verify.js';

function manifest(artifacts: Partial<Record<'bzImage' | 'init' | 'initramfs' | 'kernelConfig' | 'iso', { file: string; sha256: string }>>): Manifest {
  const filled = Object.fromEntries(Object.entries(artifacts).map(([k, v]) => [k, { ...v, bytes: 0 }]));
  return { artifacts: filled } as unknown as Manifest;
}

describe('verify: comparing builds', () => {
  it('finds the first differing byte, or the end of the shorter file', () => {
    assert.equal(firstDifference(Buffer.from('abcdef'), Buffer.from('abcdef')), -1);
    assert.equal(firstDifference(Buffer.from('abcdef'), Buffer.from('abcXef')), 3);
    assert.equal(firstDifference(Buffer.from('abc'), Buffer.from('abcdef')), 3);
  });

  it('says what lies at an offset', () => {
    assert.equal(describeOffset('iso', 16 * 2048 + 813, Buffer.alloc(0)), '2 KiB block 16 (primary volume descriptor)');
    assert.equal(describeOffset('iso', 100, Buffer.alloc(0)), '2 KiB block 0 (MBR (hybrid boot code and partition table))');
    assert.equal(describeOffset('initramfs', 4, Buffer.alloc(0)), 'gzip header');
    assert.equal(describeOffset('raw', 0x5c, Buffer.alloc(4 << 20)), 'sector 0 (protective MBR)');
    assert.equal(describeOffset('aws', 600, Buffer.alloc(4 << 20)), 'sector 1 (GPT header)');
    assert.equal(describeOffset('raw', (4 << 20) - 512, Buffer.alloc(4 << 20)), 'sector 8191 (backup GPT)');
    assert.equal(describeOffset('uki', 0x3c, Buffer.alloc(0)), 'PE headers');
    assert.equal(describeOffset('kernelConfig', 9, Buffer.from('# a\n# b\nCONFIG_X=y\n')), 'line 3: CONFIG_X=y');
  });

  it('reports identical, differing (with offset and bytes) and missing artifacts', async () => {
    const a = mkdtempSync(path.join(os.tmpdir(), 'gopid1-verify-a-'));
    const b = mkdtempSync(path.join(os.tmpdir(), 'gopid1-verify-b-'));
    writeFileSync(path.join(a, 'init'), Buffer.from('same bytes'));
    writeFileSync(path.join(b, 'init'), Buffer.from('same bytes'));
    writeFileSync(path.join(a, 'bzImage'), Buffer.alloc(1024, 1));
    const changed = Buffer.alloc(1024, 1);
    changed[0x300] = 2;
    writeFileSync(path.join(b, 'bzImage'), changed);
    const expected = manifest({ init: { file: 'init', sha256: 'aa' }, bzImage: { file: 'bzImage', sha256: 'b1' }, iso: { file: 'x.iso', sha256: 'cc' } });
    const actual = manifest({ init: { file: 'init', sha256: 'aa' }, bzImage: { file: 'bzImage', sha256: 'b2' } });
    const result = await compareArtifacts(expected, a, actual, b);
    const byName = new Map(result.map((r) => [r.artifact, r]));
    assert.equal(byName.get('init')?.identical, true);
    assert.equal(byName.get('bzImage')?.identical, false);
    assert.equal(byName.get('bzImage')?.difference?.offset, 0x300);
    assert.equal(byName.get('bzImage')?.difference?.where, 'setup code or compressed kernel');
    assert.match(byName.get('bzImage')?.difference?.actual ?? '', /^@760: 01 01 01 01 01 01 01 01 02 01/);
    assert.equal(byName.get('iso')?.missing, 'actual');
    const withoutFiles = await compareArtifacts(expected, undefined, actual, b);
    assert.equal(withoutFiles.find((r) => r.artifact === 'bzImage')?.difference, undefined, 'no published bytes, no offset');
  });

  it('lists builder packages that changed since the published build', () => {
    const before = { tag: 't', id: 'i', packages: ['gcc-14=14.2.0-19', 'make=4.4.1-2', 'bc=1.07'] };
    const after = { tag: 't', id: 'j', packages: ['gcc-14=14.2.0-20', 'make=4.4.1-2', 'flex=2.6'] };
    assert.deepEqual(packageChanges('kernel builder', before, after), ['kernel builder gcc-14: 14.2.0-19 → 14.2.0-20', 'kernel builder bc: 1.07 → (none)', 'kernel builder flex: (none) → 2.6']);
  });
});
