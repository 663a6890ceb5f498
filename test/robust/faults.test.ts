import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

describe('faults: a killed builder, a silent machine', { skip }, () => {
  it('a builder container killed mid-compile is reported with its exit code, its log tail and what to do', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('robust-killed');
    let killed = false;
    const run = await runCli(['build', hello, '--out', out, '--no-cache'], {
      onOutput: (text) => {
        if (!killed && /compiling Linux/.test(text)) {
          killed = true;
          setTimeout(() => {
            // From outside, as the OOM killer or an operator would.
            const ids = execFileSync('docker', ['ps', '-q', '--filter', 'label=gopid1.role=kernel-compile']).toString().split('\n').filter(Boolean);
            for (const id of ids) execFileSync('docker', ['kill', id]);
          }, 5000);
        }
      },
    });
    assert.ok(killed, run.stderr);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /kernel: compile failed with exit code 137 \[STEP_FAILED\]/);
    assert.match(run.stderr, /\n {2}\| /, 'the log tail is shown');
    assert.match(run.stderr, /→ The builder container was killed \(out of memory, or stopped from outside\)/);
    assert.deepEqual(readdirSync(out).sort(), ['logs'], 'nothing half-written');
    // The kernel's configure and compile steps ran unprivileged and offline.
    const sandbox = readFileSync(path.join(out, 'logs', 'kernel.log'), 'utf8').match(/^gopid1: sandbox: .*$/gm) ?? [];
    // No network, no capabilities (not even in the bounding set), no way to gain privileges.
    assert.deepEqual(sandbox, Array(2).fill('gopid1: sandbox: user builder (uid 10001), network interfaces: lo, capabilities 0000000000000000, no_new_privs 1'));
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('a machine that never prints is stopped at the timeout, saying so', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('robust-silent');
    assert.equal((await runCli(['build', path.join(fixtures, 'silent'), '--out', out])).code, 0);
    const started = Date.now();
    const run = await runCli(['boot', out, '--timeout', '8']);
    assert.equal(run.code, 124, run.stderr);
    assert.ok(Date.now() - started < 20_000, `stopped after ${Date.now() - started} ms`);
    assert.match(run.stderr, /the machine was still running after 8 s \[BOOT_TIMEOUT\]/);
    assert.match(run.stderr, /\(the console printed nothing\)/);
    assert.match(run.stderr, /→ Nothing reached the serial console/);
  });
});
