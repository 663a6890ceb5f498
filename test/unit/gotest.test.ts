import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { testBinaryArgs } from '../../src/api/test.js';
import { directoryEntries } from '../../src/initramfs/tree.js';

describe('gopid1 test: the test binary\'s arguments', () => {
  it('spells go test\'s flags as the test binary takes them, with go test\'s timeout and paniconexit0', () => {
    assert.deepEqual(testBinaryArgs([], 600), ['-test.timeout=600s', '-test.paniconexit0']);
    assert.deepEqual(testBinaryArgs(['-run', 'TestA|TestB', '-v', '-count=2', '--short'], 600), ['-test.timeout=600s', '-test.paniconexit0', '-test.run=TestA|TestB', '-test.v=true', '-test.count=2', '-test.short=true']);
    assert.deepEqual(testBinaryArgs(['-timeout', '30s', '-test.run=X'], 600), ['-test.paniconexit0', '-test.timeout=30s', '-test.run=X']);
    assert.deepEqual(testBinaryArgs(['-v', '-args', '-custom', 'x'], 60), ['-test.timeout=60s', '-test.paniconexit0', '-test.v=true', '-custom', 'x']);
  });

  it('refuses what it cannot pass, saying what to do', () => {
    assert.throws(() => testBinaryArgs(['-coverprofile', 'c.out'], 600), /-coverprofile is not a flag gopid1 test passes/);
    assert.throws(() => testBinaryArgs(['-run'], 600), /-run needs a value/);
    assert.throws(() => testBinaryArgs(['-run', 'Test A'], 600), /cannot travel on the kernel command line/);
  });
});

describe('gopid1 test: the package\'s directory in the initramfs', () => {
  it('copies files with their modes, directories and symlinks under the prefix, its parents made, .git left out', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-tree-'));
    mkdirSync(path.join(dir, 'testdata', 'deep'), { recursive: true });
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, 'a_test.go'), 'package a\n');
    writeFileSync(path.join(dir, 'testdata', 'deep', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(path.join(dir, '.git', 'HEAD'), 'ref\n');
    symlinkSync('deep/run.sh', path.join(dir, 'testdata', 'link'));
    const entries = await directoryEntries(dir, 'src/pkg/a');
    assert.deepEqual(entries.map((entry) => `${entry.type} ${entry.name}`), [
      'dir src', 'dir src/pkg', 'dir src/pkg/a',
      'file src/pkg/a/a_test.go', 'dir src/pkg/a/testdata', 'dir src/pkg/a/testdata/deep', 'file src/pkg/a/testdata/deep/run.sh', 'symlink src/pkg/a/testdata/link',
    ]);
    const script = entries.find((entry) => entry.name.endsWith('run.sh'));
    assert.equal(script?.type === 'file' ? script.mode : 0, 0o755);
  });
});
