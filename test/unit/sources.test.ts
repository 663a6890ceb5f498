import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Gopid1Error } from '../../src/errors.js';
import { describeSource, kernelOrgUrls, parseKernelSource, sha256FromSums } from '../../src/kernel/source.js';

const badInput = (error: unknown): boolean => error instanceof Gopid1Error && error.code === 'BAD_INPUT';

describe('kernel sources', () => {
  it('parses debian:<series> and kernel.org:<version>', async () => {
    assert.deepEqual(await parseKernelSource('debian:trixie'), { kind: 'debian', series: 'trixie' });
    assert.deepEqual(await parseKernelSource('kernel.org:6.12.8'), { kind: 'kernel.org', version: '6.12.8' });
    await assert.rejects(parseKernelSource('debian:Trixie!'), badInput);
    await assert.rejects(parseKernelSource('kernel.org:v6.12-rc1'), badInput);
    await assert.rejects(parseKernelSource('nowhere:1'), badInput);
  });

  it('accepts a tarball path and a source tree, and refuses other files and trees', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-src-'));
    writeFileSync(path.join(dir, 'linux-6.12.tar.xz'), '');
    writeFileSync(path.join(dir, 'notes.txt'), '');
    const tree = path.join(dir, 'linux');
    mkdirSync(path.join(tree, 'arch', 'x86'), { recursive: true });
    writeFileSync(path.join(tree, 'Makefile'), '');
    assert.deepEqual(await parseKernelSource(path.join(dir, 'linux-6.12.tar.xz')), { kind: 'tarball', path: path.join(dir, 'linux-6.12.tar.xz') });
    assert.deepEqual(await parseKernelSource(tree), { kind: 'tree', path: tree });
    await assert.rejects(parseKernelSource(path.join(dir, 'notes.txt')), badInput);
    await assert.rejects(parseKernelSource(dir), badInput);
    assert.equal(describeSource({ kind: 'tarball', path: '/x/linux-6.12.tar.xz' }), 'tarball:linux-6.12.tar.xz');
  });

  it('knows kernel.org\'s layout and reads its sha256sums', () => {
    assert.deepEqual(kernelOrgUrls('6.12.8'), {
      tarball: 'https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.12.8.tar.xz',
      sums: 'https://cdn.kernel.org/pub/linux/kernel/v6.x/sha256sums.asc',
    });
    const sums = [
      '-----BEGIN PGP SIGNED MESSAGE-----',
      `${'a'.repeat(64)}  linux-6.12.7.tar.xz`,
      `${'b'.repeat(64)}  linux-6.12.8.tar.xz`,
      `${'c'.repeat(64)}  linux-6.12.8.tar.gz`,
    ].join('\n');
    assert.equal(sha256FromSums(sums, 'linux-6.12.8.tar.xz'), 'b'.repeat(64));
    assert.equal(sha256FromSums(sums, 'linux-6.13.tar.xz'), undefined);
  });
});
