import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, leftovers, listInitramfs, tempDir } from '../helpers/e2e.js';
import { boot, isGopid1Error, type Manifest } from '../../src/index.js';
import { packageRoot } from '../../src/paths.js';

const skip = e2ePrerequisites();
const MIB = 1024 * 1024;
const supervised = path.join(fixtures, 'supervised');

function manifestOf(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

function qemuProcesses(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `qemu-system-x86_64.*${marker}`]).toString().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('--init supervise: gopid1\'s init is PID 1, the program is /app', { skip }, () => {
  const out = tempDir('supervise');

  it('puts the supervising init at /init and the program at /app, adding less than 1.5 MB to the initramfs', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', supervised, '--init', 'supervise', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /app [\d,]+ bytes \+ supervising init [\d,]+ bytes/);
    const manifest = manifestOf(out);
    assert.equal(manifest.init.mode, 'supervise');
    assert.ok(manifest.artifacts.app, 'the program is recorded as app');
    assert.deepEqual(listInitramfs(path.join(out, 'initramfs.cpio.zst')), ['app', 'dev', 'dev/console', 'dev/null', 'etc', 'etc/group', 'etc/hostname', 'etc/hosts', 'etc/passwd', 'init', 'proc', 'root', 'run', 'sys', 'tmp']);

    const direct = tempDir('supervise-direct');
    assert.equal((await runCli(['build', supervised, '--out', direct])).code, 0);
    const added = manifest.artifacts.initramfs.bytes - manifestOf(direct).artifacts.initramfs.bytes;
    assert.ok(added > 0 && added <= 1.5 * MIB, `the supervising init adds ${added} bytes to initramfs.cpio.zst`);
    assert.equal(manifestOf(direct).artifacts.init.sha256, manifest.artifacts.app?.sha256, 'the same program either way');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('mounts, passes the command line\'s arguments and environment, runs os/exec, reaps orphans, and exits with the program\'s status after a clean power-off', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', 'GOPID1_GREETING=hello -- exit 3', '--timeout', '120']);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /^pid \d+ ppid 1$/m, 'the program is a child of PID 1');
    assert.match(run.stdout, /^args \["exit" "3"\]$/m);
    assert.match(run.stdout, /^env GOPID1_GREETING="hello"$/m);
    assert.match(run.stdout, /^mounts devtmpfs \/dev, devpts \/dev\/pts, proc \/proc, sysfs \/sys, tmpfs \/tmp, tmpfs \/run, tmpfs \/dev\/shm$/m);
    // What a container gives a program: a host name (the machine's name here), HOSTNAME, HOME, PATH, os/user, ptys.
    assert.match(run.stdout, /^hostname supervised HOSTNAME=supervised HOME=\/root PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
    assert.match(run.stdout, /^user root uid 0 home \/root$/m);
    assert.match(run.stdout, /^pty \/dev\/pts\/0 ioctl true stat true$/m);
    // Without --net: TCP/IP on lo (127.0.0.1 and ::1) and UNIX sockets, as in a container run with --network none.
    assert.match(run.stdout, /^loopback tcp4 ok tcp6 ok unix ok$/m);
    assert.match(run.stdout, /^script: script greet\.sh ran with \["héllo" "wörld"\]$/m, 'a #! script runs through the interpreter it names');
    assert.match(run.stdout, /^exec ok$/m);
    assert.match(run.stdout, /^zombies 0$/m, 'the five orphans were reaped');
    assert.match(run.stdout, /^gopid1: app exited with status 3$/m);
    assert.doesNotMatch(run.stdout, /Kernel panic/);
    assert.match(run.stderr, /the program exited with status 3 .*the supervising init powered the machine off/);
  });

  it('reports a program killed by a signal as 128 + the signal', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', '-- kill', '--timeout', '120']);
    assert.equal(run.code, 128 + 9, run.stderr);
    assert.match(run.stdout, /^gopid1: app killed by signal 9 \(killed\)$/m);
    assert.match(run.stderr, /killed by signal 9/);
  });

  it('without ACPI to power off with (acpi=off), ends PID 1 instead of halting forever, keeping the program\'s status', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', 'acpi=off -- exit 4', '--timeout', '120']);
    assert.equal(run.code, 4, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^gopid1: app exited with status 4\ngopid1: cannot power off: the kernel has no ACPI or PSCI to do it; ending PID 1 instead$/m);
  });

  it('Ctrl-C presses the power button: the program gets SIGTERM, ends, and the machine powers off', { timeout: 5 * 60_000 }, async () => {
    let sentAt = 0;
    const run = await runCli(['boot', out, '--cmdline', '-- wait'], {
      processGroup: true,
      onOutput: (text, child) => {
        if (sentAt === 0 && text.includes('waiting for SIGTERM') && child.pid !== undefined) {
          sentAt = Date.now();
          process.kill(-child.pid, 'SIGINT'); // a terminal's Ctrl-C: the whole foreground group
        }
      },
    });
    assert.ok(sentAt > 0, run.stderr);
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stdout, /^gopid1: power button: sending SIGTERM to the app$/m);
    assert.match(run.stdout, /^got terminated$/m, 'SIGTERM reached the program');
    assert.match(run.stdout, /^gopid1: app exited with status 0$/m);
    assert.match(run.stdout, /reboot: Power down/);
    assert.match(run.stderr, /asked to power off through its power button after the program exited with status 0/);
    assert.deepEqual(qemuProcesses(out), []);
  });

  it('stops the machine the same way at --timeout, showing how the program ended', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', '-- wait', '--expect', 'never printed', '--timeout', '15']);
    assert.equal(run.code, 124, run.stderr);
    assert.match(run.stderr, /BOOT_TIMEOUT/);
    assert.match(run.stderr, /\| got terminated/);
    assert.match(run.stderr, /\| gopid1: app exited with status 0/);
  });
});

describe('--net and boot --forward: examples/httpserver answers on the host', { skip }, () => {
  it('builds the server with networking, boots it with a forward, and gets 200 from /healthz', { timeout: FIRST_BUILD_TIMEOUT_MS + BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('httpserver');
    // --compress xz and --watchdog here (and in test/robust's --net build, the health and watchdog tests): the net
    // kernel is built once and proves the xz path.
    const built = await runCli(['build', path.join(packageRoot, 'examples', 'httpserver'), '--init', 'supervise', '--net', '--compress', 'xz', '--watchdog', '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    const manifest = manifestOf(out);
    assert.equal(manifest.boot.net, true);
    assert.match(manifest.boot.cmdline, /(^| )ip=dhcp( |$)/);
    assert.equal(manifest.artifacts.initramfs.format, 'newc+xz');
    assert.ok(listInitramfs(path.join(out, 'initramfs.cpio.xz')).includes('etc/resolv.conf'));
    const config = readFileSync(path.join(out, 'kernel.config'), 'utf8');
    for (const option of ['CONFIG_INET=y', 'CONFIG_VIRTIO_NET=y', 'CONFIG_IP_PNP_DHCP=y', 'CONFIG_RD_XZ=y', '# CONFIG_RD_ZSTD is not set']) assert.ok(config.includes(option), option);

    const port = await freePort();
    const controller = new AbortController();
    let listening: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const running = boot({
      dir: out,
      forwards: [`${port}:8080`],
      timeoutSeconds: 180,
      onConsole: (line) => {
        if (/httpserver: listening on/.test(line)) listening();
      },
      signal: controller.signal,
    });
    const failed = running.then(
      () => new Error('the machine stopped before the server listened'),
      (error: unknown) => error,
    );
    const first = await Promise.race([ready.then(() => undefined), failed]);
    assert.equal(first, undefined, String(first));

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const home = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(await home.text(), /^Hello from Golang, PID \d+, up /);

    controller.abort();
    const error = await failed;
    assert.ok(isGopid1Error(error) && error.code === 'INTERRUPTED', String(error));
    const console = readFileSync(path.join(out, 'serial.log'), 'utf8');
    assert.match(console, /httpserver: terminated: shutting down\nhttpserver: stopped\ngopid1: app exited with status 0/);
  });

  it('static IPv4 (the kernel) and IPv6 (the init), SLAAC, DNS and a host name: the server answers through a forward, dials the host over IPv6, resolves a name', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('static-ip');
    const built = await runCli(['build', path.join(fixtures, 'netinfo'), '--compress', 'xz', '--watchdog', '--ip', '10.0.2.15/24', '--gateway', '10.0.2.2', '--dns', '10.0.2.3', '--hostname', 'web1', '--ip6', 'fec0::15/64', '--gateway6', 'fec0::2', '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    assert.match(manifestOf(out).boot.cmdline, / ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0:web1:eth0:off:10\.0\.2\.3$/);
    const port = await freePort();
    // A server on the host, on every address (IPv6 too): QEMU's user network takes the guest's connections to its
    // host address, fec0::2, to the host's loopback.
    const hostServer = net.createServer((socket) => socket.end(`hello ${socket.remoteAddress ?? ''}`));
    await new Promise<void>((resolve) => hostServer.listen(0, '::', resolve));
    const hostPort = (hostServer.address() as net.AddressInfo).port;
    const controller = new AbortController();
    const running = boot({ dir: out, forwards: [`${port}:8080`], timeoutSeconds: 180, signal: controller.signal }).then(
      () => new Error('the machine stopped on its own'),
      (error: unknown) => error,
    );
    const ask = (what: string): Promise<string> => fetch(`http://127.0.0.1:${port}${what}`).then((response) => response.text()).catch(() => '');
    // Asks until the server answers (it listens once the kernel has configured eth0) and SLAAC has given eth0 its
    // address from QEMU's router advertisement (derived from the NIC's MAC, 52:54:00:12:34:56), then stops the machine.
    let answer = '';
    for (let attempt = 0; attempt < 150 && !/fec0::5054:ff:fe12:3456\/64/.test(answer); attempt++) {
      answer = await ask('/');
      if (!/fec0::5054:ff:fe12:3456\/64/.test(answer)) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const dialed = await ask(`/dial?to=${encodeURIComponent(`[fec0::2]:${hostPort}`)}&from=fec0::15`);
    const hostResolves = await lookup('deb.debian.org').then(() => true, () => false);
    const resolved = hostResolves ? await ask('/resolve?name=deb.debian.org') : '';
    const named = (await ask('/resolve?name=web1')) + (await ask('/resolve?name=localhost'));
    controller.abort();
    const stopped = await running;
    hostServer.close();
    assert.ok(isGopid1Error(stopped) && stopped.code === 'INTERRUPTED', String(stopped));
    assert.match(answer, /^hostname web1\n/m);
    assert.match(answer, /^addresses .*\b10\.0\.2\.15\/24\b/m);
    assert.match(answer, /^addresses .* fec0::15\/64\b/m, 'the static IPv6 address');
    assert.match(answer, /^addresses .* fec0::5054:ff:fe12:3456\/64\b/m, 'the SLAAC address');
    assert.match(answer, /^addresses .* ::1\/128\b/m, 'IPv6 on loopback');
    assert.match(answer, /^resolv\.conf .*nameserver 10\.0\.2\.3/m);
    assert.match(answer, /^remote 10\.0\.2\.2:\d+$/m, 'the host reaches it through QEMU\'s gateway');
    assert.match(dialed, /^local \[fec0::15\]:\d+\nread "hello /m, 'out over IPv6 from the static address, through the gateway');
    assert.match(readFileSync(path.join(out, 'serial.log'), 'utf8'), /^gopid1: net: eth0 fec0::15\/64, gateway fec0::2$/m);
    assert.match(named, /^addresses 127\.0\.1\.1 \(<nil>\)\naddresses 127\.0\.0\.1 ::1 \(<nil>\)$/m, '/etc/hosts names the machine and localhost');
    if (hostResolves) assert.match(resolved, /^addresses \S+.* \(<nil>\)$/m, 'a name resolves through QEMU\'s DNS');
  });
});

describe('--restart: the supervising init starts the program again', { skip }, () => {
  const out = tempDir('restart');
  const restarts = path.join(fixtures, 'restarts');
  const lines = (stdout: string) => stdout.split('\n').filter((line) => /^(run \d+|gopid1: (app|giving))/.test(line));

  it('`--restart on-failure --restart-max 2` brings the supervising init and gives it the policy', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', restarts, '--restart', 'on-failure', '--restart-max', '2', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const manifest = manifestOf(out);
    assert.deepEqual(manifest.init.mode === 'supervise' ? manifest.init.restart : undefined, { policy: 'on-failure', max: 2 });
    assert.ok(listInitramfs(path.join(out, 'initramfs.cpio.zst')).includes('etc/gopid1/init.conf'));
    const refused = await runCli(['build', restarts, '--restart', 'always', '--init', 'direct', '--out', tempDir('restart-direct')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--restart always needs the supervising init.*\[BAD_INPUT\]/);
  });

  it('restarts a program that crashes twice, after 1 s then 2 s, and ends with its last status', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', 'CRASHES=2', '--timeout', '120']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.deepEqual(lines(run.stdout), [
      'run 1: crashing',
      'gopid1: app exited with status 1, restart 1 in 1 s',
      'run 2: crashing',
      'gopid1: app exited with status 1, restart 2 in 2 s',
      'run 3: done',
      'gopid1: app exited with status 0',
    ]);
    assert.match(run.stderr, /the program exited with status 0 .*the supervising init powered the machine off/);
  });

  it('gives up after --restart-max restarts in a row, powering off with the last status', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', 'CRASHES=9', '--timeout', '120']);
    assert.equal(run.code, 1, `${run.stderr}\n${run.stdout}`);
    assert.deepEqual(lines(run.stdout).slice(-3), ['run 3: crashing', 'gopid1: giving up after 2 restarts in a row (--restart-max 2)', 'gopid1: app exited with status 1']);
  });

  it('never restarts a program that exits with 125', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', 'STOP=1', '--timeout', '120']);
    assert.equal(run.code, 125, `${run.stderr}\n${run.stdout}`);
    assert.deepEqual(lines(run.stdout), ['run 1: asking not to be restarted', 'gopid1: app exited with status 125']);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});

describe('--health: the supervising init checks the program, and stops it when unhealthy', { skip }, () => {
  const unhealthy = path.join(fixtures, 'unhealthy');
  // The watchdog test's kernel too (the timeout is the init's, not the kernel's): fed through the unhealthy spell.
  const checks = ['--net', '--compress', 'xz', '--watchdog', '30', '--restart', 'on-failure', '--health-interval', '1', '--health-start-period', '1', '--health-retries', '2'];
  const lines = (stdout: string) => stdout.split('\n').filter((line) => /^(run \d+|gopid1: (app|health))/.test(line));
  const expected = [
    'run 1: serving',
    'gopid1: health: healthy',
    'gopid1: health: check failed (answered 500), 1 of 2',
    'gopid1: health: check failed (answered 500), 2 of 2',
    'gopid1: health: unhealthy after 2 failed checks in a row: stopping the app',
    'run 1: stopping',
    'gopid1: app exited with status 0, restart 1 in 1 s',
    'run 2: serving',
    'gopid1: health: healthy',
  ];

  /** Builds the fixture with this check, boots it until the second "healthy", and compares the console lines; returns the out dir. */
  async function buildAndBootTillHealthyTwice(prefix: string, check: string[], lineup: string[]): Promise<string> {
    const out = tempDir(prefix);
    const built = await runCli(['build', unhealthy, ...checks, ...check, '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    const run = await runCli(['boot', out, '--expect', 'gopid1: health: healthy', '--expect-anywhere', '--expect-count', '2', '--timeout', '180']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.deepEqual(lines(run.stdout), lineup);
    return out;
  }

  it('an HTTP check on loopback that starts failing stops the program, and --restart on-failure starts it again', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    await buildAndBootTillHealthyTwice('health-url', ['--health', 'http://127.0.0.1:8080/healthz'], expected);
  });

  it('a --health-cmd check runs a command in the machine, exit 0 healthy', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const out = await buildAndBootTillHealthyTwice('health-cmd', ['--health-cmd', '/app -check'], expected.map((line) => line.replace('answered 500', 'exited with status 1')));
    const refused = await runCli(['build', unhealthy, '--health', 'http://example.com/healthz', '--out', out]);
    assert.match(refused.stderr, /"http:\/\/example\.com\/healthz" is not an http:\/\/ URL on loopback \[BAD_INPUT\]/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});

describe('--watchdog: the supervising init feeds a watchdog, which resets a machine whose init stops feeding it', { skip }, () => {
  const out = tempDir('watchdog');
  // The kernel of the health checks' tests: networking, xz, the watchdog drivers.
  const kernel = ['--net', '--compress', 'xz'];

  it('builds the drivers in; fed, the machine runs three times the timeout and powers off cleanly with the program\'s status', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const built = await runCli(['build', path.join(fixtures, 'watchdog'), ...kernel, '--watchdog', '4', '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    const manifest = manifestOf(out);
    assert.equal(manifest.init.mode, 'supervise');
    assert.deepEqual(manifest.init.mode === 'supervise' ? manifest.init.watchdog : undefined, { seconds: 4 });
    assert.equal(manifest.boot.watchdog, true);
    assert.ok(manifest.kernel.fragments.some((f) => f.name === 'watchdog.config'));
    const run = await runCli(['boot', out, '--cmdline', 'TICKS=12', '--timeout', '180']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^gopid1: watchdog: i6300ESB timer \(\/dev\/watchdog\d\), timeout 4 s, fed every 1\.333333333s$/m, 'QEMU\'s i6300esb, chosen over softdog');
    assert.match(run.stdout, /^done$/m);
    assert.match(run.stdout, /^gopid1: app exited with status 0$/m);
    assert.doesNotMatch(run.stdout, /not feeding/);
  });

  it('resets the machine once the init stops feeding it, and boot says so [WATCHDOG_RESET]', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', out, '--cmdline', 'STALL=1', '--timeout', '180']);
    assert.equal(run.code, 1, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^gopid1: watchdog: not feeding it \(\/run\/gopid1\/watchdog-stall exists\): the machine resets unless that changes$/m);
    assert.match(run.stderr, /the machine's watchdog was not fed in time: it reset the machine \[WATCHDOG_RESET\]/);
    assert.doesNotMatch(run.stdout, /gopid1: app exited/);
  });

  it('without QEMU\'s device (as on a cloud) feeds the kernel\'s softdog, which resets the machine the same way', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', '--kernel', path.join(out, 'bzImage'), '--initrd', path.join(out, 'initramfs.cpio.xz'), '--init', 'supervise', '--cmdline', 'STALL=1', '--timeout', '180']);
    assert.equal(run.code, 1, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^gopid1: watchdog: Software Watchdog \(\/dev\/watchdog\d\), timeout 4 s/m);
    assert.match(run.stderr, /\[WATCHDOG_RESET\]/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});

describe('run-time configuration: boot --env, --env-file and --secret reach the program through fw_cfg, never /proc/cmdline', { skip }, () => {
  const out = tempDir('config');

  it('the build\'s default environment and --user, then the boot\'s files, variables and secrets, in that order', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const built = await runCli(['build', path.join(fixtures, 'config'), '--env', 'FROM_BUILD=yes', '--env', 'LOG=info', '--user', '1000:1000', '--out', out]);
    assert.equal(built.code, 0, built.stderr);
    const manifest = manifestOf(out);
    assert.deepEqual(manifest.init.mode === 'supervise' ? [manifest.init.env, manifest.init.user] : [], [['FROM_BUILD', 'LOG'], { uid: 1000, gid: 1000 }]);
    const files = tempDir('config-files');
    writeFileSync(path.join(files, 'app.env'), '# the boot\'s settings\nPORT=8080\nLOG=warn\n');
    writeFileSync(path.join(files, 'token'), 's3cret\n');
    const run = await runCli(['boot', out, '--env-file', path.join(files, 'app.env'), '--env', 'GREETING=Grüße aus der Maschine', '--env', 'MULTI=a=b=c', '--secret', `api-token=${path.join(files, 'token')}`, '--timeout', '180']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^gopid1: config: 4 environment variables from the host$/m);
    assert.match(run.stdout, /^gopid1: config: secrets in \/run\/secrets: api-token$/m);
    assert.match(run.stdout, /^uid 1000 gid 1000$/m, 'the program runs as --user');
    for (const line of ['env FROM_BUILD="yes"', 'env LOG="warn"', 'env PORT="8080"', 'env GREETING="Grüße aus der Maschine"', 'env MULTI="a=b=c"']) assert.ok(run.stdout.split('\n').includes(line), `${line} in\n${run.stdout}`);
    assert.match(run.stdout, /^secret api-token mode 400 uid 1000 gid 1000: "s3cret\\n" <nil>$/m);
    assert.match(run.stdout, /^fw_cfg readable: false$/m, 'the program\'s user cannot read fw_cfg itself');
    assert.match(run.stdout, /^kernel\.panic -1$/m, 'without --panic-reboot the kernel reboots at once after a panic');
    const cmdline = /^cmdline (.*)$/m.exec(run.stdout)?.[1] ?? '';
    assert.ok(cmdline.startsWith('console=ttyS0'), cmdline);
    for (const leaked of ['s3cret', 'Grüße', '8080', 'FROM_BUILD', 'GREETING']) assert.ok(!cmdline.includes(leaked), `${leaked} is on the kernel command line: ${cmdline}`);
  });

  it('on a cloud the same configuration comes from the instance user-data: boot --metadata-server emulates EC2\'s IMDSv2', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const cloud = tempDir('config-cloud');
    // The cloud kernel of aws.test.ts (efi, net, aws and gcp drivers, gzip).
    const built = await runCli(['build', path.join(fixtures, 'config'), '--format', 'gcp,aws', '--compress', 'gzip', '--init', 'supervise', '--user', '1000:1000', '--panic-reboot', '5', '--out', cloud]);
    assert.equal(built.code, 0, built.stderr);
    const manifest = manifestOf(cloud);
    assert.equal(manifest.init.mode === 'supervise' ? manifest.init.metadata : undefined, 'aws');
    const files = tempDir('config-cloud-files');
    writeFileSync(path.join(files, 'token'), 's3cret\n');
    const run = await runCli(['boot', cloud, '--metadata-server', '--env', 'GREETING=Grüße aus der Wolke', '--secret', `api-token=${path.join(files, 'token')}`, '--timeout', '180']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^gopid1: config: 1 environment variables from user-data$/m);
    assert.doesNotMatch(run.stdout, /from the host/, 'nothing through fw_cfg');
    assert.match(run.stdout, /^gopid1: config: secrets in \/run\/secrets: api-token$/m);
    assert.ok(run.stdout.split('\n').includes('env GREETING="Grüße aus der Wolke"'), run.stdout);
    assert.match(run.stdout, /^secret api-token mode 400 uid 1000 gid 1000: "s3cret\\n" <nil>$/m);
    assert.doesNotMatch(/^cmdline (.*)$/m.exec(run.stdout)?.[1] ?? '', /s3cret|Wolke/);
    assert.match(run.stdout, /^kernel\.panic 5$/m, '--panic-reboot 5: the kernel reboots 5 s after a panic');

    const plain = await runCli(['boot', cloud, '--timeout', '180']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /user-data/, 'under QEMU without --metadata-server the init does not ask for it');
    const refused = await runCli(['boot', out, '--metadata-server']);
    assert.match(refused.stderr, /--metadata-server: config does not ask a metadata service for user-data \[BAD_INPUT\]/);
  });

  it('refuses bad input before QEMU starts: a malformed variable, a missing secret, a direct init', async () => {
    let run = await runCli(['boot', out, '--env', 'not a variable']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--env "not a variable" is not KEY=VALUE .*\[BAD_INPUT\]/);
    run = await runCli(['boot', out, '--secret', 'db=/nonexistent/file']);
    assert.match(run.stderr, /--secret db: \/nonexistent\/file is not a file \[BAD_INPUT\]/);
    run = await runCli(['boot', '--kernel', path.join(out, 'bzImage'), '--initrd', path.join(out, 'initramfs.cpio.zst'), '--init', 'direct', '--env', 'A=1']);
    assert.match(run.stderr, /--env, --env-file and --secret need the supervising init, which hands them to the program \[BAD_INPUT\]/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
