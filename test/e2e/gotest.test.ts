import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();
const module = path.join(fixtures, 'gotest');

// The default machine's kernel (minimal, supervising init): the one hello and supervise use, cached.
describe('gopid1 test: a package\'s tests run inside the machine, as go test runs them', { skip }, () => {
  it('runs every package of ./..., shows the failing test, and exits 1 with a line per package', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['test', './...', '--', '-v'], { cwd: module });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^--- FAIL: TestBad /m);
    assert.match(run.stdout, /boom: this test fails on purpose/);
    assert.match(run.stdout, /^--- PASS: TestTestdata /m, 'testdata/ is read relative to the package\'s directory');
    assert.match(run.stdout, /working directory \/src\/pass/);
    assert.match(run.stdout, /^--- PASS: TestLoopbackServer /m, 'an httptest server on 127.0.0.1 without --net');
    assert.match(run.stdout, /^FAIL\texample\.com\/gotest\/fail\t/m);
    assert.match(run.stdout, /^ok  \texample\.com\/gotest\/pass\t/m);
    assert.doesNotMatch(run.stdout, /^\[\s*\d+\.\d+\]|^gopid1: /m, 'the tests\' output alone, as go test shows it');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('passes -run through and exits 0 when what runs passes', { timeout: 10 * 60_000 }, async () => {
    const out = tempDir('gotest-run');
    const run = await runCli(['--verbose', 'test', '-C', module, './...', '--out', out, '--', '-run', 'TestGood|TestAdd', '-v'], { cwd: tempDir('gotest-cwd') });
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stderr, /^gopid1: app exited with status 0$/m, '--verbose: the machine\'s own lines, on stderr');
    assert.match(run.stdout, /^--- PASS: TestGood /m);
    assert.doesNotMatch(run.stdout, /TestBad|TestTestdata/);
    assert.match(run.stdout, /^ok  \texample\.com\/gotest\/fail\t/m);
  });

  it('--json gives go test -json\'s events, converted by go tool test2json', { timeout: 10 * 60_000 }, async () => {
    const run = await runCli(['--json', 'test', './pass'], { cwd: module });
    assert.equal(run.code, 0, run.stderr);
    const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { Action: string; Package?: string; Test?: string });
    assert.ok(events.some((e) => e.Action === 'pass' && e.Test === 'TestTestdata' && e.Package === 'example.com/gotest/pass'), run.stdout);
    assert.ok(events.some((e) => e.Action === 'pass' && e.Test === undefined && e.Package === 'example.com/gotest/pass'), 'the package\'s own pass event');
  });

  it('tests a package outside the module by its import path, as go test os/user does, and says when a pattern names none', { timeout: 10 * 60_000 }, async () => {
    const run = await runCli(['test', 'os/user', '--', '-run', 'TestCurrent', '-v'], { cwd: module });
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^--- PASS: TestCurrent /m, 'the standard library\'s test, in the machine (which has /etc/passwd)');
    assert.match(run.stdout, /^ok  \tos\/user\t/m);
    const none = await runCli(['test', './nothing'], { cwd: module });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /go list cannot list the packages \.\/nothing \(exit code 1\)/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('--tags builds the test binary with Go build tags (a file behind a tag, the time zone database)', { timeout: 10 * 60_000 }, async () => {
    const run = await runCli(['test', './pass', '--tags', 'gopid1zones,timetzdata', '--', '-run', 'TestZone', '-v'], { cwd: module });
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^--- PASS: TestZone /m);
    assert.match(run.stdout, /zone America\/New_York, offset at 2024-01-01: -05:00/);
  });

  it('refuses a flag it cannot pass before anything is built', async () => {
    const run = await runCli(['test', '.', '--', '-coverprofile', 'c.out'], { cwd: module });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /-coverprofile is not a flag gopid1 test passes to the test binary/);
  });
});
