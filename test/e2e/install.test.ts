import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';
import { packageRoot } from '../../src/paths.js';

const skip = e2ePrerequisites();

describe('the package a user installs: npm pack, npm install -g, gopid1 from any directory', { skip }, () => {
  it('packs, installs into a prefix, and builds and boots an app outside the checkout, supervised', { timeout: BUILD_TIMEOUT_MS }, () => {
    const work = tempDir('install');
    execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: packageRoot, stdio: 'ignore' });
    const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');
    const listing = execFileSync('tar', ['-tzf', path.join(work, tarball)]).toString().split('\n');
    for (const file of ['package/build/src/cli/main.js', 'package/dockerfiles/kernel/fragments/minimal.config', 'package/init/main.go', 'package/keys/kernel.org-autosigner.asc', 'package/build/src/qemu/metadata-responder.js']) {
      assert.ok(listing.includes(file), `${file} is in the package`);
    }
    assert.ok(!listing.some((file) => file.startsWith('package/test/') || file.startsWith('package/build/test/') || file.startsWith('package/src/')), 'no tests or TypeScript sources in the package');
    const prefix = path.join(work, 'prefix');
    execFileSync('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', '--silent', path.join(work, tarball)], { stdio: 'ignore' });
    const gopid1 = path.join(prefix, 'bin', 'gopid1');

    // An app in a directory of its own, run from there: nothing of the checkout is in reach.
    const app = path.join(work, 'myapp');
    cpSync(hello, app, { recursive: true });
    const env = { ...process.env, CI: '1' };
    const built = spawnSync(gopid1, ['build', '.', '--init', 'supervise', '--out', 'dist'], { cwd: app, env, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const booted = spawnSync(gopid1, ['boot', '--expect', 'Hello from Golang', '--timeout', '120'], { cwd: app, env, encoding: 'utf8' });
    assert.equal(booted.status, 0, booted.stderr);
    assert.match(booted.stdout, /Hello from Golang/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
