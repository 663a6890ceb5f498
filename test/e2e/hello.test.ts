import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, listInitramfs, tempDir } from '../helpers/e2e.js';
import type { Manifest } from '../../src/index.js';
import { sha256File } from '../../src/artifacts/files.js';

const skip = e2ePrerequisites();
const MIB = 1024 * 1024;

describe('examples/hello, built and booted as a new user would', { skip }, () => {
  const out = tempDir('hello');

  it('builds bzImage + initramfs in builder containers, within the size budget', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /bzImage\s+[\d,]+\s+[\d.]+\ninitramfs\.cpio\.zst\s+[\d,]+\s+[\d.]+\ntotal/);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    // The default profile's kernel carries container parity (TCP/IP and UNIX sockets on loopback, #! scripts): about
    // 0.5 MiB of the budget; --profile small leaves it out.
    assert.ok(manifest.artifacts.bzImage.bytes <= 2 * MIB, `bzImage is ${manifest.artifacts.bzImage.bytes} bytes`);
    assert.ok(manifest.artifacts.initramfs.bytes <= 1 * MIB, `initramfs is ${manifest.artifacts.initramfs.bytes} bytes`);
    for (const record of Object.values(manifest.artifacts)) {
      assert.equal(await sha256File(path.join(out, record.file)), record.sha256, `${record.file} matches its manifest sha256`);
    }
    assert.match(manifest.kernel.release, /^\d+\.\d+/);
    assert.equal(manifest.kernel.source, 'debian:trixie');
    assert.equal(manifest.kernel.config, 'minimal');
    assert.match(manifest.go.version, /^go1\.\d+/);
    assert.equal(manifest.go.network, 'none');
    assert.match(manifest.kernel.builder.id, /^sha256:/);
    assert.ok(manifest.kernel.builder.packages.some((p) => p.startsWith('linux-source-')), 'kernel builder records its linux-source package');
    assert.ok(manifest.go.builder.packages.some((p) => /^golang-1\.\d+-go=/.test(p)), 'Go builder records its Go package');
    assert.doesNotMatch(JSON.stringify(manifest), new RegExp(out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no host paths in the manifest');
    const config = readFileSync(path.join(out, 'kernel.config'), 'utf8');
    for (const option of ['CONFIG_BLK_DEV_INITRD=y', 'CONFIG_EVENTFD=y', 'CONFIG_SERIAL_8250_CONSOLE=y', 'CONFIG_64BIT=y']) assert.ok(config.includes(option), option);
    // zstd by default, and the kernel carries that decompressor only.
    assert.equal(manifest.artifacts.initramfs.format, 'newc+zstd');
    assert.match(config, /^CONFIG_RD_ZSTD=y$/m);
    for (const other of ['GZIP', 'XZ', 'LZ4', 'LZO', 'LZMA', 'BZIP2']) assert.match(config, new RegExp(`^# CONFIG_RD_${other} is not set$`, 'm'));
    assert.deepEqual(listInitramfs(path.join(out, 'initramfs.cpio.zst')), ['dev', 'dev/console', 'dev/null', 'etc', 'etc/group', 'etc/hostname', 'etc/hosts', 'etc/passwd', 'init', 'proc', 'root', 'run', 'sys', 'tmp']);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('boots it in QEMU and sees "Hello from Golang" three times', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--expect', 'Hello from Golang', '--expect-count', '3', '--timeout', '120']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.split('\n').filter((line) => line === 'Hello from Golang').length, 3);
    assert.match(run.stderr, /first program line after \d+\.\d+ s/);
    assert.match(readFileSync(path.join(out, 'serial.log'), 'utf8'), /Hello from Golang/);
  });

  it('reports the boot as JSON with the time to the first line', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['--json', 'boot', out, '--expect', 'Hello from Golang', '--timeout', '120']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { ok: boolean; outcome: string; firstLineMs: number; accel: string };
    assert.equal(result.outcome, 'expected');
    assert.ok(result.firstLineMs > 0 && result.firstLineMs < 120_000);
    assert.ok(['tcg', 'kvm'].includes(result.accel));
  });

  it('builds an unchanged app again from the cache alone (kernel, program, initramfs), starting no container', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const again = tempDir('hello-again');
    const run = await runCli(['--json', 'build', hello, '--out', again]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { manifest: Manifest };
    assert.equal(result.manifest.kernel.fromCache, true);
    assert.equal(result.manifest.go.fromCache, true);
    const first = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(result.manifest.artifacts.bzImage.sha256, first.artifacts.bzImage.sha256);
    assert.equal(result.manifest.artifacts.init.sha256, first.artifacts.init.sha256);
    assert.equal(result.manifest.artifacts.initramfs.sha256, first.artifacts.initramfs.sha256);
    // Each builder step writes its log: none ran (the Go compile, the initramfs compressor).
    for (const log of ['go.log', 'initramfs.log', 'kernel.log']) assert.equal(existsSync(path.join(again, 'logs', log)), false, `${log}: a step ran`);
  });
});
