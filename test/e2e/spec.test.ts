import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, leftovers, tempDir } from '../helpers/e2e.js';
import type { Manifest } from '../../src/index.js';

const skip = e2ePrerequisites();

function manifestOf(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

describe('a machine described in gopid1.yaml, and built again from its manifest', { skip }, () => {
  const app = path.join(tempDir('spec-app'), 'config');
  const out = tempDir('spec-out');

  it('builds from gopid1.yaml in the app dir, flags winning over it, and records the spec in the manifest', { timeout: BUILD_TIMEOUT_MS }, async () => {
    cpSync(path.join(fixtures, 'config'), app, { recursive: true });
    writeFileSync(path.join(app, 'gopid1.yaml'), '# the machine, beside its code\ninit: supervise\nenv: [FROM_BUILD=spec, LOG=info]\nuser: "1000:1000"\nrestart: on-failure\n');
    const built = await runCli(['build', app, '--user', '2000', '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    const manifest = manifestOf(out);
    assert.ok(manifest.init.mode === 'supervise');
    assert.deepEqual([manifest.init.env, manifest.init.user, manifest.init.restart?.policy], [['FROM_BUILD', 'LOG'], { uid: 2000, gid: 2000 }, 'on-failure'], 'the spec, with --user from the command line');
    assert.deepEqual(manifest.spec, { init: 'supervise', env: ['FROM_BUILD=spec', 'LOG=info'], user: '2000', restart: 'on-failure' });
    const booted = await runCli(['boot', out, '--timeout', '120']);
    assert.match(booted.stdout, /^env FROM_BUILD="spec"$/m);
    assert.match(booted.stdout, /^uid 2000 gid 2000$/m);
  });

  it('`build --spec <out>/manifest.json` builds the same machine again, byte for byte, whatever gopid1.yaml says now', { timeout: BUILD_TIMEOUT_MS }, async () => {
    writeFileSync(path.join(app, 'gopid1.yaml'), 'init: direct\n');
    const again = tempDir('spec-again');
    const rebuilt = await runCli(['build', app, '--spec', path.join(out, 'manifest.json'), '--out', again]);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const [first, second] = [manifestOf(out), manifestOf(again)];
    for (const key of ['bzImage', 'init', 'app', 'initramfs'] as const) assert.equal(second.artifacts[key]?.sha256, first.artifacts[key]?.sha256, key);
    assert.deepEqual(second.spec, first.spec);
  });

  it('refuses a spec with an unknown key or a wrong type before building, naming them', async () => {
    writeFileSync(path.join(app, 'gopid1.yaml'), 'restart: sometimes\nnetwork: true\n');
    const run = await runCli(['build', app, '--out', tempDir('spec-bad')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /gopid1\.yaml: network is not a key of a spec; restart must be one of no, on-failure, always \[BAD_INPUT\]/);
    assert.match(run.stderr, /gopid1 schema/);
    const schema = await runCli(['schema']);
    assert.equal((JSON.parse(schema.stdout) as { title: string }).title, 'gopid1 machine spec');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
