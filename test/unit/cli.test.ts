import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { runCli } from '../helpers/cli.js';

const hello = path.join(packageRoot, 'examples', 'hello');
const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in:\n${text}`);

describe('gopid1 CLI (no Docker needed)', () => {
  it('prints help listing build, boot, verify, compare and clean', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    for (const command of ['build', 'boot', 'verify', 'compare', 'clean']) assert.match(run.stdout, new RegExp(`\\b${command}\\b`));
  });

  it('rejects a missing app directory with one paragraph and no stack trace', async () => {
    const run = await runCli(['build', '/nonexistent/app']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /app directory \/nonexistent\/app does not exist \[BAD_INPUT\]/);
    assert.match(run.stderr, /→ Pass the directory that holds your go\.mod/);
    noStack(run.stderr);
  });

  it('rejects a directory without go.mod, and one without a main package', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-cli-'));
    let run = await runCli(['build', dir]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /has no go\.mod/);
    writeFileSync(path.join(dir, 'go.mod'), 'module example.com/lib\n\ngo 1.21\n');
    writeFileSync(path.join(dir, 'lib.go'), 'package lib\n');
    run = await runCli(['build', dir]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is not a Go main package/);
    noStack(run.stderr);
  });

  it('refuses an out dir that is the app dir or /', async () => {
    let run = await runCli(['build', hello, '--out', hello], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    // The Docker check comes first when no engine answers; with one it is the out-dir check. Either way: exit 1, no stack.
    assert.equal(run.code, 1);
    noStack(run.stderr);
    run = await runCli(['build', hello, '--kernel-source', 'debian:NOPE']);
    assert.match(run.stderr, /unknown Debian release/);
  });

  it('fails in under 2 s with what to do when no Docker engine answers', async () => {
    const run = await runCli(['build', hello, '--out', mkdtempSync(path.join(os.tmpdir(), 'gopid1-out-'))], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no Docker engine answers at tcp:\/\/127\.0\.0\.1:9 .*\[DOCKER_UNAVAILABLE\]/);
    assert.match(run.stderr, /make setup/);
    assert.match(run.stderr, /DOCKER_HOST/);
    assert.ok(run.ms < 2000 + 1500, `took ${run.ms} ms (node start-up included)`);
    noStack(run.stderr);
  });

  it('speaks of flags, not API fields, when the plan refuses an input, before anything starts', async () => {
    let run = await runCli(['build', 'examples/hello', '--format', 'iso,vmdk9'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--format has an unknown output format "vmdk9" \[BAD_INPUT\]/);
    assert.match(run.stderr, /Known formats: iso, iso-uefi, raw, qcow2, vmdk, vhd, gcp/);
    run = await runCli(['build', 'examples/hello', '--kernel-source', 'debian:Sid1'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.match(run.stderr, /unknown Debian release "Sid1" in --kernel-source debian:Sid1 \[BAD_INPUT\]/);
    run = await runCli(['build', 'examples/hello', '--iso', '--cmdline', 'msg="a b"'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.match(run.stderr, /--cmdline with double quotes cannot go on an ISO or a disk/);
    run = await runCli(['build', 'examples/hello', '--tags', 'timetzdata', '--tags', 'a;b'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.match(run.stderr, /--tags has "a;b", which is not a Go build tag \[BAD_INPUT\]/);
    noStack(run.stderr);
  });

  it('validates boot flags before starting anything', async () => {
    let run = await runCli(['boot', 'dist', '--memory', 'lots']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--memory must be a positive whole number/);
    run = await runCli(['boot', 'dist', '--timeout', '-3']);
    assert.match(run.stderr, /--timeout must be a positive number/);
    run = await runCli(['boot', 'dist', '--accel', 'hvf']);
    assert.match(run.stderr, /Allowed choices are auto, kvm, tcg/);
    run = await runCli(['boot', mkdtempSync(path.join(os.tmpdir(), 'gopid1-empty-')), '--expect', '(']);
    assert.match(run.stderr, /is not a valid regular expression/);
  });

  it('validates --forward, --init and compare flags before starting anything', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'gopid1-empty-'));
    let run = await runCli(['boot', empty, '--forward', '8080']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--forward 8080 is not HOST:GUEST \[BAD_INPUT\]/);
    noStack(run.stderr);
    run = await runCli(['boot', empty, '--forward', '8080:99999']);
    assert.match(run.stderr, /the guest port must be a number from 1 to 65535/);
    run = await runCli(['build', hello, '--init', 'systemd']);
    assert.match(run.stderr, /Allowed choices are direct, supervise/);
    run = await runCli(['compare', hello, '--variants', 'scratch,alpine']);
    assert.match(run.stderr, /unknown variant "alpine": pick from scratch, distroless, debian-slim, golang/);
    run = await runCli(['compare', hello, '--runs', '0']);
    assert.match(run.stderr, /--runs must be a positive whole number/);
  });

  it('refuses --forward for a machine built without networking', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-nonet-'));
    const record = { file: 'x', bytes: 1, sha256: '0' };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ schema: 1, name: 'hello', artifacts: { bzImage: record, init: record, initramfs: record, kernelConfig: record }, boot: { cmdline: 'console=ttyS0' } }));
    const run = await runCli(['boot', dir, '--forward', '8080:80']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--forward needs networking in the machine, and hello was built without it/);
    assert.match(run.stderr, /Build with --net/);
  });

  it('says what to do when the out dir holds no build', async () => {
    const run = await runCli(['boot', mkdtempSync(path.join(os.tmpdir(), 'gopid1-empty-'))]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /initramfs .* does not exist/);
    assert.match(run.stderr, /Run `gopid1 build/);
    noStack(run.stderr);
  });

  it('prints errors as JSON with --json', async () => {
    const run = await runCli(['--json', 'build', '/nonexistent/app']);
    assert.equal(run.code, 1);
    const result = JSON.parse(run.stdout) as { ok: boolean; error: { code: string } };
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'BAD_INPUT');
  });
});
