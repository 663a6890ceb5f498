import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { accountsText, hostsText, initConfigText, rootfsEntries, writeInitramfs } from '../../src/initramfs/layout.js';
import { machineHostname } from '../../src/plan/network.js';
import { writeNewc } from '../../src/initramfs/newc.js';

function hasCpio(): boolean {
  try {
    execFileSync('cpio', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('newc writer', () => {
  it('writes the header fields, name padding, data padding and trailer of the newc format', () => {
    const archive = writeNewc([{ type: 'file', name: 'init', mode: 0o755, data: Buffer.from('abcde') }], { mtime: 0x65920080 });
    const head = archive.subarray(0, 110).toString('ascii');
    assert.equal(head.slice(0, 6), '070701');
    const field = (index: number): number => parseInt(head.slice(6 + index * 8, 14 + index * 8), 16);
    assert.equal(field(0), 1, 'inode');
    assert.equal(field(1), 0o100755, 'mode: regular file, 0755');
    assert.equal(field(2), 0, 'uid');
    assert.equal(field(3), 0, 'gid');
    assert.equal(field(4), 1, 'nlink');
    assert.equal(field(5), 0x65920080, 'mtime');
    assert.equal(field(6), 5, 'file size');
    assert.equal(field(11), 5, 'name size including NUL');
    // 110 + 5 = 115 → padded to 116; data 5 → padded to 8.
    assert.equal(archive.subarray(110, 115).toString('latin1'), 'init\0');
    assert.equal(archive.subarray(116, 121).toString(), 'abcde');
    assert.deepEqual([...archive.subarray(121, 124)], [0, 0, 0]);
    const trailer = archive.subarray(124).toString('latin1');
    assert.ok(trailer.startsWith('070701'));
    assert.ok(trailer.includes('TRAILER!!!\0'));
    assert.equal(archive.length % 4, 0);
  });

  it('sorts entries, numbers inodes in that order and is byte-for-byte deterministic', () => {
    const entries = [
      { type: 'dir' as const, name: 'tmp', mode: 0o1777 },
      { type: 'file' as const, name: 'init', mode: 0o755, data: Buffer.from('x') },
      { type: 'dir' as const, name: 'dev', mode: 0o755 },
    ];
    const a = writeNewc(entries, { mtime: 1 });
    const b = writeNewc([...entries].reverse(), { mtime: 1 });
    assert.deepEqual(a, b);
    const names = [...a.toString('latin1').matchAll(/070701[0-9a-f]{104}([^\0]+)\0/g)].map((m) => m[1]);
    assert.deepEqual(names, ['dev', 'init', 'tmp', 'TRAILER!!!']);
  });

  it('refuses paths that escape the root and duplicates', () => {
    assert.throws(() => writeNewc([{ type: 'dir', name: '../etc', mode: 0o755 }], { mtime: 0 }), /invalid initramfs path/);
    assert.throws(() => writeNewc([{ type: 'dir', name: 'etc\0passwd', mode: 0o755 }], { mtime: 0 }), /invalid initramfs path/, 'a NUL would end the name in the archive');
    assert.throws(() => writeNewc([{ type: 'dir', name: 'a', mode: 0o755 }, { type: 'dir', name: './a', mode: 0o755 }], { mtime: 0 }), /duplicate/);
  });

  it('is read back by GNU cpio with the device nodes, modes and program intact', { skip: hasCpio() ? false : 'GNU cpio is not installed (make setup installs it)' }, () => {
    const archive = writeNewc(rootfsEntries({ init: Buffer.from('#!fake init\n'), hostname: 'hello' }), { mtime: 1704067200 });
    const listing = execFileSync('cpio', ['-t', '-v', '--quiet'], { input: archive }).toString();
    const lines = listing.trim().split('\n');
    assert.equal(lines.length, 14);
    const byName = new Map(lines.map((line) => [line.split(/\s+/).pop(), line]));
    assert.match(byName.get('dev/console') ?? '', /^crw-------\s+1 root\s+root\s+5,\s+1 /);
    assert.match(byName.get('dev/null') ?? '', /^crw-rw-rw-\s+1 root\s+root\s+1,\s+3 /);
    assert.match(byName.get('init') ?? '', /^-rwxr-xr-x\s+1 root\s+root\s+12 /);
    assert.match(byName.get('tmp') ?? '', /^drwxrwxrwt/);
    assert.match(byName.get('root') ?? '', /^drwx------/);
    for (const file of ['etc/group', 'etc/hostname', 'etc/hosts', 'etc/passwd']) assert.match(byName.get(file) ?? '', /^-rw-r--r--\s+1 root\s+root /, file);
    assert.equal(byName.get('etc/resolv.conf'), undefined, 'no resolver without networking');
    assert.equal(byName.get('app'), undefined, 'no /app when the program is /init');
    for (const dir of ['dev', 'etc', 'proc', 'run', 'sys']) assert.match(byName.get(dir) ?? '', /^d/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-cpio-'));
    execFileSync('cpio', ['-i', '--quiet', '--no-absolute-filenames', 'init'], { input: archive, cwd: dir });
    assert.equal(execFileSync('cat', [path.join(dir, 'init')]).toString(), '#!fake init\n');
  });

  it('holds the supervising init as /init, the program as /app, and with networking /etc/resolv.conf -> /proc/net/pnp', { skip: hasCpio() ? false : 'GNU cpio is not installed (make setup installs it)' }, () => {
    const archive = writeNewc(rootfsEntries({ init: Buffer.from('supervisor'), app: Buffer.from('program!'), net: true, hostname: 'web1' }), { mtime: 1704067200 });
    const listing = execFileSync('cpio', ['-t', '-v', '--quiet'], { input: archive }).toString();
    const lines = listing.trim().split('\n');
    const byName = new Map(lines.map((line) => [line.replace(/ -> .*$/, '').split(/\s+/).pop(), line]));
    assert.match(byName.get('init') ?? '', /^-rwxr-xr-x\s+1 root\s+root\s+10 /);
    assert.match(byName.get('app') ?? '', /^-rwxr-xr-x\s+1 root\s+root\s+8 /);
    assert.match(byName.get('etc/resolv.conf') ?? '', /^lrwxrwxrwx .* etc\/resolv.conf -> \.\.\/proc\/net\/pnp$/);
    assert.match(byName.get('etc/hosts') ?? '', /^-rw-r--r--\s+1 root\s+root\s+76 /);
    assert.equal(hostsText('web1'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb1\n');
    assert.equal(byName.get('etc/gopid1/init.conf'), undefined, 'no settings file without settings');
  });

  it('names the machine\'s users and groups as a container\'s base image does, and the --user ids as app', () => {
    assert.deepEqual(accountsText(), {
      passwd: 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n',
      group: 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n',
    });
    const app = accountsText({ uid: 1000, gid: 100 });
    assert.match(app.passwd, /^app:x:1000:100:app:\/:\/sbin\/nologin$/m);
    assert.match(app.group, /^app:x:100:$/m);
    assert.deepEqual(accountsText({ uid: 65534, gid: 65534 }), accountsText(), 'nobody is there already');
    assert.equal(machineHostname('My_App.v2', undefined), 'my-app-v2');
    assert.equal(machineHostname('---', undefined), 'gopid1');
    assert.equal(machineHostname('x'.repeat(80), undefined).length, 63);
    assert.equal(machineHostname('hello', 'web1'), 'web1');
  });

  it('gives the supervising init its restart policy in /etc/gopid1/init.conf', { skip: hasCpio() ? false : 'GNU cpio is not installed (make setup installs it)' }, () => {
    const config = initConfigText({ restart: { policy: 'on-failure', max: 3 } });
    assert.equal(config, 'restart=on-failure\nrestart-max=3\n');
    const health = { intervalSeconds: 2, timeoutSeconds: 1, startPeriodSeconds: 3, retries: 2 };
    assert.equal(
      initConfigText({ restart: { policy: 'no', max: 0 }, health: { url: 'http://127.0.0.1:8080/healthz', ...health } }),
      'restart=no\nrestart-max=0\nhealth-url=http://127.0.0.1:8080/healthz\nhealth-interval=2\nhealth-timeout=1\nhealth-start-period=3\nhealth-retries=2\n',
    );
    assert.match(initConfigText({ restart: { policy: 'no', max: 0 }, health: { command: ['/app', '-check'], ...health } }), /^health-cmd=\/app -check$/m);
    assert.equal(initConfigText({ restart: { policy: 'no', max: 0 }, watchdog: { seconds: 30 }, user: { uid: 1000, gid: 100 } }), 'restart=no\nrestart-max=0\nwatchdog=30\nuser=1000:100\n');
    assert.equal(initConfigText({ restart: { policy: 'no', max: 0 }, dataDisk: { bytes: 2 ** 30 } }), 'restart=no\nrestart-max=0\ndata=/data\n');
    assert.equal(initConfigText({ restart: { policy: 'no', max: 0 }, ipv6: { address: 'fd00::15', prefix: 64, gateway: 'fd00::1' } }), 'restart=no\nrestart-max=0\nip6=fd00::15/64\ngateway6=fd00::1\n');
    const archive = writeNewc(rootfsEntries({ init: Buffer.from('supervisor'), app: Buffer.from('program!'), hostname: 'hello', initConfig: config, env: Buffer.from('LOG=debug\0'), dataTemplate: Buffer.from('GP1SPARS') }), { mtime: 1704067200 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-initconf-'));
    execFileSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { input: archive, cwd: dir });
    assert.equal(readFileSync(path.join(dir, 'etc', 'gopid1', 'init.conf'), 'utf8'), config);
    assert.equal(readFileSync(path.join(dir, 'etc', 'gopid1', 'env'), 'utf8'), 'LOG=debug\0');
    assert.equal(statSync(path.join(dir, 'etc', 'gopid1', 'env')).mode & 0o777, 0o600, 'the default environment is root\'s to read');
    assert.equal(readFileSync(path.join(dir, 'etc', 'gopid1', 'data.sparse'), 'latin1'), 'GP1SPARS', 'the data disk\'s template');
  });
});

describe('initramfs.cpio.gz', () => {
  it('is gzip with no name and no time, and the same bytes on every run', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-initramfs-'));
    const init = path.join(dir, 'init');
    writeFileSync(init, Buffer.alloc(4096, 7));
    const first = await writeInitramfs({ init, hostname: 'hello' }, path.join(dir, 'a.cpio.gz'), 1704067200);
    const second = await writeInitramfs({ init, hostname: 'hello' }, path.join(dir, 'b.cpio.gz'), 1704067200);
    const a = execFileSync('cat', [first.path]);
    const b = execFileSync('cat', [second.path]);
    assert.deepEqual(a, b);
    assert.equal(a[0], 0x1f);
    assert.equal(a[1], 0x8b);
    assert.equal((a[3] ?? 0xff) & 0x08, 0, 'FNAME flag is clear');
    assert.equal(a.readUInt32LE(4), 0, 'MTIME is zero');
    assert.equal(gunzipSync(a).length, first.unpackedBytes);
    assert.equal(a.length, first.bytes);
  });
});
