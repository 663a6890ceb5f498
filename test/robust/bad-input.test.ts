import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, hello, tempDir } from '../helpers/e2e.js';
import { packageRoot } from '../../src/paths.js';

const skip = e2ePrerequisites();
const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in:\n${text}`);

describe('bad input against the real engine and QEMU: one paragraph, the fix, no stack, nothing half-written', { skip }, () => {
  const out = tempDir('robust-hello');

  it('an out dir that cannot be made is refused before anything is built', { timeout: 60_000 }, async () => {
    const run = await runCli(['build', hello, '--out', '/etc/passwd/dist']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot write to the out dir \/etc\/passwd\/dist \[BAD_INPUT\]/);
    assert.match(run.stderr, /→ Choose a directory you can write to/);
    noStack(run.stderr);
  });

  it('an out dir holding files gopid1 did not make is refused, and with --force used without deleting any of them', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const home = tempDir('robust-home');
    mkdirSync(path.join(home, 'logs', 'app'), { recursive: true });
    writeFileSync(path.join(home, 'logs', 'app', 'today.log'), 'mine\n');
    writeFileSync(path.join(home, 'logs', 'yesterday.log'), 'mine\n');
    writeFileSync(path.join(home, 'notes.txt'), 'mine\n');
    let run = await runCli(['build', hello, '--out', home]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the out dir .* holds files gopid1 did not make \(notes\.txt\) and no gopid1 build/);
    assert.match(run.stderr, /\[BAD_INPUT\]\n\s+→ Pass --out with a new or empty directory .* or add --force/);
    noStack(run.stderr);
    run = await runCli(['build', hello, '--out', home, '--force']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(readFileSync(path.join(home, 'logs', 'app', 'today.log'), 'utf8'), 'mine\n');
    assert.equal(readFileSync(path.join(home, 'logs', 'yesterday.log'), 'utf8'), 'mine\n');
    assert.equal(readFileSync(path.join(home, 'notes.txt'), 'utf8'), 'mine\n');
  });

  it('a kernel or ISO file that is not what it claims is refused before QEMU starts', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    assert.equal((await runCli(['build', hello, '--out', out])).code, 0);
    const fake = path.join(out, 'not-a-kernel');
    writeFileSync(fake, 'this is not a bzImage\n');
    let run = await runCli(['boot', out, '--kernel', fake, '--initrd', path.join(out, 'initramfs.cpio.zst'), '--timeout', '30']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /not-a-kernel is not a Linux kernel image \(neither an x86 bzImage, "HdrS" at 0x202, nor an arm64 Image, "ARM\\x64" at 0x38\) \[BAD_INPUT\]/);
    assert.match(run.stderr, /→ Pass the bzImage or Image of `gopid1 build`/);
    noStack(run.stderr);
    run = await runCli(['boot', '--iso', path.join(out, 'bzImage'), '--timeout', '30']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /bzImage is not an ISO 9660 image \(no "CD001" volume descriptor at 0x8001\) \[BAD_INPUT\]/);
  });

  it('QEMU missing: says how to install it', async () => {
    const run = await runCli(['boot', out], { env: { GOPID1_QEMU: '/nonexistent/qemu-system-x86_64' } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\/nonexistent\/qemu-system-x86_64 is not installed \[QEMU_MISSING\]/);
    assert.match(run.stderr, /apt-get install qemu-system-x86/);
  });

  it('a host port already in use for --forward names the port and what to do', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const web = tempDir('robust-httpserver');
    // The e2e tests' net kernel: networking, xz, the watchdog.
    assert.equal((await runCli(['build', path.join(packageRoot, 'examples', 'httpserver'), '--net', '--compress', 'xz', '--watchdog', '--out', web])).code, 0);
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as net.AddressInfo;
    try {
      const run = await runCli(['boot', web, '--forward', `${port}:8080`, '--timeout', '30']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`QEMU could not forward tcp:127\\.0\\.0\\.1:${port}-:8080: the host port is in use or not allowed \\[BAD_INPUT\\]`));
      assert.match(run.stderr, /→ Pick another host port/);
    } finally {
      busy.close();
    }
  });
});
