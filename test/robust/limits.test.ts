import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { uniqueHelloApp } from '../helpers/apps.js';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';
import type { Manifest } from '../../src/index.js';

const skip = e2ePrerequisites();

describe('least privilege: builder containers get the resources and rights they are given, no more', { skip }, () => {
  it('--cpus and --memory-limit reach the builder container\'s cgroup', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('limits');
    // An app of this run's own: an unchanged one comes from the cache, and no builder step would run.
    const app = uniqueHelloApp('limits-app');
    const run = await runCli(['build', app.dir, '--package', app.pkg, '--out', out, '--cpus', '1', '--memory-limit', '1g']);
    assert.equal(run.code, 0, run.stderr);
    const log = readFileSync(path.join(out, 'logs', 'go.log'), 'utf8');
    assert.match(log, /gopid1: cgroup cpu\.max 100000 100000, memory\.max 1073741824/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('builder steps run as an unprivileged user, with loopback as their only network interface', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('privilege');
    const app = uniqueHelloApp('privilege-app');
    const run = await runCli(['build', app.dir, '--package', app.pkg, '--out', out, '--iso']);
    assert.equal(run.code, 0, run.stderr);
    // Each step says who it is and what network it sees (dockerfiles/*/…-step.sh, the initramfs compressor).
    // The initramfs compressor and the ISO builder's steps run on a read-only root filesystem too.
    for (const [log, root] of [['go.log', ''], ['initramfs.log', ', root ro'], ['iso.log', ', root ro']] as const) {
      const text = readFileSync(path.join(out, 'logs', log), 'utf8');
      assert.match(text, new RegExp(`^gopid1: sandbox: user builder \\(uid 10001\\), network interfaces: lo, capabilities 0000000000000000, no_new_privs 1${root}$`, 'm'), log);
      assert.doesNotMatch(text, /^gopid1: sandbox: .*(uid 0\b|interfaces: .*\b(eth|en)\w*)/m, log);
    }
    // The kernel's steps run from the kernel builder's image user (its sandbox lines are checked where it compiles: faults.test).
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    for (const image of [manifest.kernel.builder.id, manifest.go.builder.id, manifest.iso?.builder.id ?? '']) {
      assert.equal(execFileSync('docker', ['image', 'inspect', '--format', '{{.Config.User}}', image]).toString().trim(), 'builder', image);
    }
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('refuses limits no container could run with, before starting one', async () => {
    let run = await runCli(['build', hello, '--memory-limit', '64m']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--memory-limit must be at least 256 MiB/);
    run = await runCli(['build', hello, '--memory-limit', 'lots']);
    assert.match(run.stderr, /--memory-limit must be a size such as 512m or 2g/);
    run = await runCli(['build', hello, '--cpus', '0.01']);
    assert.match(run.stderr, /--cpus must be a number of CPUs, at least 0\.1/);
  });
});
