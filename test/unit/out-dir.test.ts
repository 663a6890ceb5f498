import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { OutputDir } from '../../src/artifacts/out.js';

function stage(out: OutputDir, files: string[]): void {
  for (const name of files) writeFileSync(out.staged(name), name);
}

describe('out dir', () => {
  it('holds one build: artifacts of the previous build that this one does not make are removed, nothing else', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-out-'));
    const app = mkdtempSync(path.join(os.tmpdir(), 'gopid1-app-'));
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    writeFileSync(path.join(app, 'keep'), 'outside');
    const first = await OutputDir.open(dir, { appDir: app, runId: 'a' });
    stage(first, ['init', 'app', 'hello.iso']);
    await first.commit(['init', 'app', 'hello.iso'], { artifacts: { init: { file: 'init' }, app: { file: 'app' }, iso: { file: 'hello.iso' }, evil: { file: '../keep' } } });
    assert.equal(statSync(path.join(dir, 'app')).mode & 0o777, 0o755, 'programs are executable');
    assert.equal(statSync(path.join(dir, 'hello.iso')).mode & 0o777, 0o644, 'nothing is world-writable');

    const second = await OutputDir.open(dir, { appDir: app, runId: 'b' });
    stage(second, ['init']);
    await second.commit(['init'], { artifacts: { init: { file: 'init' } } });
    assert.deepEqual(readdirSync(dir).sort(), ['init', 'logs', 'manifest.json', 'notes.txt']);
    assert.deepEqual(readdirSync(app), ['keep'], 'a manifest never deletes outside the out dir');
  });
});
