import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
    const first = await OutputDir.open(dir, { appDir: app, runId: 'a', force: true });
    stage(first, ['init', 'app', 'hello.iso']);
    await first.commit(['init', 'app', 'hello.iso'], { schema: 1, artifacts: { init: { file: 'init' }, app: { file: 'app' }, iso: { file: 'hello.iso' }, evil: { file: '../keep' } } });
    assert.equal(statSync(path.join(dir, 'app')).mode & 0o777, 0o755, 'programs are executable');
    assert.equal(statSync(path.join(dir, 'hello.iso')).mode & 0o777, 0o644, 'nothing is world-writable');

    const second = await OutputDir.open(dir, { appDir: app, runId: 'b' });
    stage(second, ['init']);
    await second.commit(['init'], { schema: 1, artifacts: { init: { file: 'init' } } });
    assert.deepEqual(readdirSync(dir).sort(), ['init', 'logs', 'manifest.json', 'notes.txt']);
    assert.deepEqual(readdirSync(app), ['keep'], 'a manifest never deletes outside the out dir');
  });

  it('refuses a directory holding files it did not make and no gopid1 build, unless forced, and then deletes nothing of them', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'gopid1-home-'));
    const app = mkdtempSync(path.join(os.tmpdir(), 'gopid1-app-'));
    writeFileSync(path.join(home, '.bashrc'), 'mine');
    mkdirSync(path.join(home, 'logs', 'nginx'), { recursive: true });
    writeFileSync(path.join(home, 'logs', 'nginx', 'access.log'), 'mine');
    writeFileSync(path.join(home, 'logs', 'notes.txt'), 'mine');
    writeFileSync(path.join(home, 'logs', 'kernel.log'), 'mine');
    await assert.rejects(OutputDir.open(home, { appDir: app, runId: 'c' }), (error: Error & { code?: string }) => error.code === 'BAD_INPUT' && /holds files gopid1 did not make \(\.bashrc\)/.test(error.message));
    const forced = await OutputDir.open(home, { appDir: app, runId: 'd', force: true });
    await forced.discard();
    assert.equal(readFileSync(path.join(home, 'logs', 'nginx', 'access.log'), 'utf8'), 'mine');
    assert.equal(readFileSync(path.join(home, 'logs', 'notes.txt'), 'utf8'), 'mine');
    assert.equal(readFileSync(path.join(home, 'logs', 'kernel.log'), 'utf8'), 'mine', 'logs of a directory gopid1 was forced into are kept');
  });

  it('opens an empty directory, one left by a failed first build, and a gopid1 out dir', async () => {
    const app = mkdtempSync(path.join(os.tmpdir(), 'gopid1-app-'));
    const empty = mkdtempSync(path.join(os.tmpdir(), 'gopid1-out-'));
    await (await OutputDir.open(empty, { appDir: app, runId: 'e' })).discard();
    const failed = mkdtempSync(path.join(os.tmpdir(), 'gopid1-out-'));
    mkdirSync(path.join(failed, 'logs'));
    writeFileSync(path.join(failed, 'logs', 'go.log'), 'old');
    writeFileSync(path.join(failed, 'serial.log'), 'old');
    await (await OutputDir.open(failed, { appDir: app, runId: 'f' })).discard();
    assert.deepEqual(readdirSync(path.join(failed, 'logs')), [], 'the previous build\'s logs are gone');
  });

  it('never leaves a manifest describing a mix of builds: a commit cut short leaves none, and the next build takes over', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-out-'));
    const app = mkdtempSync(path.join(os.tmpdir(), 'gopid1-app-'));
    const first = await OutputDir.open(dir, { appDir: app, runId: 'g' });
    stage(first, ['init', 'app']);
    await first.commit(['init', 'app'], { schema: 1, artifacts: { init: { file: 'init' }, app: { file: 'app' } } });
    // A second build killed mid-commit: the old manifest set aside, one new file moved in, no new manifest yet.
    renameSync(path.join(dir, 'manifest.json'), path.join(dir, '.gopid1-manifest-previous.json'));
    writeFileSync(path.join(dir, 'init'), 'new init');
    assert.equal(existsSync(path.join(dir, 'manifest.json')), false, 'no manifest claims the mix');
    const third = await OutputDir.open(dir, { appDir: app, runId: 'h' });
    stage(third, ['init']);
    await third.commit(['init'], { schema: 1, artifacts: { init: { file: 'init' } } });
    assert.deepEqual(readdirSync(dir).sort(), ['init', 'logs', 'manifest.json']);
  });
});
