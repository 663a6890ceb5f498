import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

describe('least privilege: builder containers get the resources they are given', { skip }, () => {
  it('--cpus and --memory-limit reach the builder container\'s cgroup', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('limits');
    const run = await runCli(['build', hello, '--out', out, '--cpus', '1', '--memory-limit', '1g']);
    assert.equal(run.code, 0, run.stderr);
    const log = readFileSync(path.join(out, 'logs', 'go.log'), 'utf8');
    assert.match(log, /gopid1: cgroup cpu\.max 100000 100000, memory\.max 1073741824/);
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
