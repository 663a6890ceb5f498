import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Gopid1Error } from '../../src/errors.js';
import { bootMethodOf, formatsBuilt, OUTPUT_FORMATS, parseFormats, provides } from '../../src/outputs/table.js';
import type { BuildOptions } from '../../src/plan/options.js';
import { planBuild, planRecord, type HostFacts } from '../../src/plan/plan.js';
import { DEFAULT_SOURCE_DATE_EPOCH } from '../../src/plan/vocabulary.js';

const host: HostFacts = { cpus: 4 };
const plan = (options: Partial<BuildOptions> = {}, facts: HostFacts = host) => planBuild({ app: 'examples/hello', ...options }, facts);

/** Asserts a BAD_INPUT naming `field`, whose message matches `message`. */
function rejects(options: Partial<BuildOptions>, field: string, message: RegExp, facts: HostFacts = host): void {
  assert.throws(
    () => plan(options, facts),
    (error: unknown) => error instanceof Gopid1Error && error.code === 'BAD_INPUT' && error.field === field && message.test(error.message) && Boolean(error.hint),
  );
}

describe('planBuild: every default, resolved once', () => {
  it('resolves a plan from the app alone', () => {
    const p = plan();
    assert.equal(p.arch, 'amd64');
    assert.equal(p.name, 'hello');
    assert.deepEqual(p.app, { dir: path.resolve('examples/hello'), package: '.' });
    assert.equal(p.out, path.resolve('dist'));
    assert.equal(p.kernel.source, 'debian:trixie');
    assert.equal(p.kernel.base, 'minimal');
    assert.equal(p.kernel.compression, 'zstd');
    assert.equal(p.kernel.jobs, 4);
    assert.equal(p.kernel.sha256, undefined);
    assert.equal(p.kernel.sourceDateEpoch, DEFAULT_SOURCE_DATE_EPOCH);
    assert.deepEqual(p.program, { package: '.', cgo: false, strip: true });
    assert.deepEqual(p.initramfs, { compression: 'zstd' });
    assert.deepEqual(p.outputs, []);
    assert.deepEqual(p.runtime, { init: 'direct', restart: { policy: 'no', max: 0 }, hostname: 'hello', cmdline: 'console=ttyS0 panic=-1 printk.time=1 quiet', net: false, menuTimeoutSeconds: 0 });
    assert.deepEqual(p.limits, {});
    assert.equal(p.cache, true);
    assert.equal(p.sourceDateEpoch, DEFAULT_SOURCE_DATE_EPOCH);
  });

  it('orders the kernel fragments: base, generated, the formats\' needs, networking, the user\'s', () => {
    const p = plan({ kernelCompression: 'xz', formats: ['iso-uefi'], net: true, kernelFragments: ['/home/me/extra.config'] });
    assert.deepEqual(
      p.kernel.fragments.map((f) => (f.origin === 'user' ? f.path : f.name)),
      ['minimal.config', 'compression.config', 'initramfs-compression.config', 'efi.config', 'net.config', '/home/me/extra.config'],
    );
    const generated = p.kernel.fragments.find((f) => f.origin === 'generated' && f.name === 'compression.config');
    assert.match(generated?.origin === 'generated' ? generated.text : '', /^# CONFIG_KERNEL_ZSTD is not set\nCONFIG_KERNEL_XZ=y\n# CONFIG_KERNEL_GZIP is not set\n$/);
  });

  it('takes Go build tags as go build -tags does: comma-separated or repeated, each once, checked', () => {
    assert.deepEqual(plan({ tags: ['timetzdata,netgo', 'timetzdata', ' go1.22 '] }).program, { package: '.', cgo: false, strip: true, tags: ['timetzdata', 'netgo', 'go1.22'] });
    assert.equal(plan({ tags: [] }).program.tags, undefined);
    rejects({ tags: ['a b'] }, 'tags', /"a b", which is not a Go build tag/);
    rejects({ tags: ['!cgo'] }, 'tags', /not a Go build tag/);
    assert.deepEqual((planRecord(plan({ tags: ['x'] })).program as { tags?: string[] }).tags, ['x'], 'recorded in the manifest\'s plan');
  });

  it('a defconfig base has no minimal fragment and compresses with gzip unless told', () => {
    const p = plan({ kernelConfig: 'defconfig' });
    assert.equal(p.kernel.compression, 'gzip');
    assert.deepEqual(p.kernel.fragments.map((f) => f.origin), ['generated']);
  });

  it('--profile small leaves container parity out of the minimal kernel, and refuses what needs TCP/IP', () => {
    assert.equal(plan({}).kernel.profile, 'default');
    const small = plan({ profile: 'small', healthCmd: '/app -check' });
    assert.equal(small.kernel.profile, 'small');
    assert.deepEqual(small.kernel.fragments.map((f) => (f.origin === 'user' ? f.path : f.name)).slice(0, 2), ['minimal.config', 'small.config']);
    assert.equal(plan({ profile: 'small', arch: 'arm64' }).kernel.fragments[1]?.origin === 'shipped' ? 'small.config' : '', 'small.config');
    rejects({ profile: 'small', net: true }, 'profile', /small leaves TCP\/IP out of the kernel, and this machine has networking/);
    rejects({ profile: 'small', formats: ['aws'] }, 'profile', /this machine has networking/);
    rejects({ profile: 'small', health: 'http://127.0.0.1:8080/' }, 'profile', /the health check http:\/\/127\.0\.0\.1:8080\/ needs it/);
    rejects({ profile: 'small', kernelConfig: 'defconfig' }, 'profile', /small trims the minimal kernel/);
    rejects({ profile: 'tiny' as never }, 'profile', /must be one of default, small/);
  });

  it('jobs follow cpus rounded up when a CPU limit is given', () => {
    assert.equal(plan({ cpus: 1.5 }).kernel.jobs, 2);
    assert.deepEqual(plan({ cpus: 1.5, memoryLimitBytes: 2 ** 30 }).limits, { cpus: 1.5, memoryBytes: 2 ** 30 });
    assert.equal(plan({ cpus: 0.5, jobs: 3 }).kernel.jobs, 3);
  });

  it('networking adds ip=dhcp unless the command line configures the address itself', () => {
    assert.match(plan({ net: true }).runtime.cmdline, / ip=dhcp$/);
    assert.match(plan({ net: true, cmdline: 'ip=10.0.2.15::10.0.2.2:255.255.255.0' }).runtime.cmdline, /quiet ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0$/);
    assert.doesNotMatch(plan({ cmdline: 'foo=1' }).runtime.cmdline, /ip=/);
  });

  it('a cloud brings its drivers and ip=dhcp; the aws and gcp formats imply theirs, once each, after networking', () => {
    const names = (p: ReturnType<typeof plan>) => p.kernel.fragments.map((f) => (f.origin === 'user' ? f.path : f.name)).slice(2);
    assert.deepEqual(plan().kernel.clouds, []);
    const azure = plan({ cloud: 'azure' });
    assert.deepEqual(names(azure), ['net.config', 'cloud-azure.config']);
    assert.match(azure.runtime.cmdline, / ip=dhcp$/);
    assert.deepEqual(names(plan({ cloud: 'azure', net: false })), ['cloud-azure.config'], 'drivers without networking when asked');
    const aws = plan({ formats: ['aws'] });
    assert.deepEqual(aws.kernel.clouds, ['aws']);
    assert.deepEqual(names(aws), ['efi.config', 'net.config', 'cloud-aws.config']);
    assert.equal(aws.runtime.net, true);
    assert.deepEqual(plan({ formats: ['gcp', 'aws'], cloud: 'aws' }).kernel.clouds, ['aws', 'gcp']);
    assert.deepEqual(names(plan({ formats: ['gcp'], cloud: 'aws' })), names(plan({ formats: ['gcp', 'aws'] })), 'one order, whatever asked: one kernel');
    assert.deepEqual(names(plan({ formats: ['gcp', 'aws'] })).slice(-2), ['cloud-aws.config', 'cloud-gcp.config']);
    assert.deepEqual(plan({ formats: ['raw', 'qcow2'] }).kernel.clouds, [], 'hypervisor formats ask for no cloud');
    assert.equal(plan({ formats: ['raw'] }).runtime.net, false);
  });

  it('the app\'s time: the option, else $SOURCE_DATE_EPOCH, else its last commit, else the constant; the kernel ignores the commit', () => {
    assert.equal(plan({ sourceDateEpoch: 5 }, { cpus: 1, environmentEpoch: '7', appCommitEpoch: 9 }).sourceDateEpoch, 5);
    assert.equal(plan({}, { cpus: 1, environmentEpoch: '7', appCommitEpoch: 9 }).sourceDateEpoch, 7);
    const fromCommit = plan({}, { cpus: 1, appCommitEpoch: 9 });
    assert.equal(fromCommit.sourceDateEpoch, 9);
    assert.equal(fromCommit.kernel.sourceDateEpoch, DEFAULT_SOURCE_DATE_EPOCH);
    assert.equal(plan({}, { cpus: 1, environmentEpoch: '7' }).kernel.sourceDateEpoch, 7);
    assert.equal(plan({}, { cpus: 1, environmentEpoch: ' ' }).sourceDateEpoch, DEFAULT_SOURCE_DATE_EPOCH);
  });

  it('--iso and --uefi are aliases of formats; the UEFI ISO includes the BIOS one', () => {
    assert.deepEqual(plan({ iso: true }).outputs, ['iso']);
    assert.deepEqual(plan({ uefi: true }).outputs, ['iso-uefi']);
    assert.deepEqual(plan({ iso: true, uefi: true }).outputs, ['iso-uefi']);
    assert.deepEqual(plan({ formats: ['iso-uefi,iso', ' iso '] }).outputs, ['iso-uefi']);
    assert.deepEqual(plan({ formats: ['iso'] }), plan({ iso: true }));
  });

  it('is immutable, and two plans of the same input are equal', () => {
    const p = plan({ net: true, formats: ['iso'] });
    assert.deepEqual(p, plan({ net: true, formats: ['iso'] }));
    assert.throws(() => ((p.runtime as { net: boolean }).net = false), TypeError);
    assert.throws(() => (p.kernel.fragments as unknown[]).push('x'), TypeError);
  });
});

describe('planBuild: every input checked, errors naming API fields', () => {
  it('refuses values outside each choice', () => {
    rejects({ arch: 'riscv64' as never }, 'arch', /^arch must be one of amd64, arm64, not "riscv64"$/);
    rejects({ kernelConfig: 'allyes' as never }, 'kernelConfig', /^kernelConfig must be one of minimal, defconfig/);
    rejects({ kernelCompression: 'lz4' as never }, 'kernelCompression', /^kernelCompression must be one of zstd, xz, gzip/);
    rejects({ compress: 'bzip2' as never }, 'compress', /^compress must be one of zstd, xz, gzip/);
    rejects({ init: 'systemd' as never }, 'init', /^init must be one of direct, supervise/);
  });

  it('refuses a cloud format without its drivers or networking, and an unknown cloud', () => {
    rejects({ cloud: 'none', formats: ['raw', 'aws'] }, 'cloud', /^cloud none leaves out the drivers the aws format needs$/);
    rejects({ net: false, formats: ['gcp'] }, 'net', /^net false leaves out the networking the gcp format needs/);
    rejects({ cloud: 'oracle' as never }, 'cloud', /must be one of aws, gcp, azure, none/);
  });

  it('sizes the disk formats in whole MiB, only when one is asked for', () => {
    assert.deepEqual(plan({ formats: ['raw'] }).disk, { boot: 'grub' });
    assert.deepEqual(plan({ formats: ['qcow2'], diskSizeBytes: 10 * 2 ** 30 }).disk, { sizeMiB: 10240, boot: 'grub' });
    assert.deepEqual(plan({ formats: ['aws'], diskSizeBytes: 2 ** 20 + 1 }).disk, { sizeMiB: 2, boot: 'grub' });
    rejects({ formats: ['iso'], diskSizeBytes: 2 ** 30 }, 'diskSizeBytes', /^diskSizeBytes sizes the disk formats, and none is asked for$/);
    rejects({ formats: ['raw'], diskSizeBytes: 0 }, 'diskSizeBytes', /must be a positive number of bytes/);
  });

  it('--boot uki starts the disks from the UKI: EFI in the kernel, quotes allowed, and only with a disk to start', () => {
    const uki = plan({ formats: ['raw', 'aws'], boot: 'uki', cmdline: 'msg="a b"' });
    assert.equal(uki.disk.boot, 'uki');
    assert.match(uki.runtime.cmdline, /msg="a b"$/, 'no GRUB re-escapes the UKI\'s command line');
    assert.ok(uki.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'efi.config'));
    const alone = plan({ formats: ['uki'], cmdline: "msg=it's" });
    assert.ok(alone.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'efi.config'), 'the UKI needs the EFI stub');
    assert.equal(alone.disk.boot, 'grub');
    rejects({ formats: ['uki', 'raw'], cmdline: 'msg="a b"' }, 'cmdline', /GRUB escapes them/);
    rejects({ formats: ['uki'], boot: 'uki' }, 'boot', /^boot uki starts the disk formats from a UKI, and none is asked for \(the uki format is the UKI itself/);
    rejects({ formats: ['iso-uefi'], boot: 'uki' }, 'boot', /\(iso-uefi boots through GRUB and is not a disk\)/);
    rejects({ boot: 'uki' }, 'boot', /\(no format is asked for\)/);
    rejects({ formats: ['raw'], boot: 'lilo' as never }, 'boot', /must be one of grub, uki/);
  });

  it('a watchdog brings its drivers and the supervising init, which feeds it; the direct init is refused', () => {
    const p = plan({ watchdogSeconds: 30 });
    assert.equal(p.runtime.init, 'supervise');
    assert.deepEqual(p.runtime.watchdog, { seconds: 30 });
    assert.ok(p.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'watchdog.config'));
    assert.ok(!plan().kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'watchdog.config'));
    rejects({ watchdogSeconds: 30, init: 'direct' }, 'watchdogSeconds', /^watchdogSeconds needs the supervising init/);
    rejects({ watchdogSeconds: 1 }, 'watchdogSeconds', /at least 2/);
    rejects({ watchdogSeconds: 5000 }, 'watchdogSeconds', /at most 2046/);
  });

  it('a static IPv6 address and gateway go to the supervising init (the kernel\'s ip= has none), and bring networking', () => {
    const p = plan({ ip6: 'FEC0::15/64', gateway6: 'fec0::2' });
    assert.equal(p.runtime.init, 'supervise');
    assert.equal(p.runtime.net, true);
    assert.deepEqual(p.runtime.ipv6, { address: 'fec0::15', prefix: 64, gateway: 'fec0::2' });
    assert.match(p.runtime.cmdline, / ip=dhcp/, 'IPv4 by DHCP still');
    assert.deepEqual(plan({ ip6: 'fd00::1/128' }).runtime.ipv6, { address: 'fd00::1', prefix: 128 });
    rejects({ ip6: 'fec0::15' }, 'ip6', /^ip6 "fec0::15" is not ADDR\/PREFIX$/);
    rejects({ ip6: 'fec0::15/129' }, 'ip6', /is not ADDR\/PREFIX/);
    rejects({ ip6: '10.0.2.15/24' }, 'ip6', /^ip6 "10.0.2.15" is not an IPv6 address$/);
    rejects({ ip6: 'fe80::1%eth0/64' }, 'ip6', /is not an IPv6 address/);
    rejects({ ip6: 'fec0::15/64', gateway6: 'router' }, 'gateway6', /^gateway6 "router" is not an IPv6 address$/);
    rejects({ gateway6: 'fec0::2' }, 'gateway6', /^gateway6 is for a static IPv6 address, and ip6 is not given$/);
    rejects({ ip6: 'fec0::15/64', init: 'direct' }, 'ip6', /^ip6 needs the supervising init, which sets it/);
    rejects({ ip6: 'fec0::15/64', net: false }, 'ip6', /configures networking, and net is false/);
  });

  it('a supervised machine with a cloud\'s drivers reads its user-data from that cloud\'s metadata service', () => {
    assert.equal(plan({ formats: ['aws'], init: 'supervise' }).runtime.metadata, 'aws');
    assert.equal(plan({ cloud: 'gcp', init: 'supervise' }).runtime.metadata, 'gcp');
    assert.equal(plan({ formats: ['gcp', 'aws'], init: 'supervise' }).runtime.metadata, 'aws');
    assert.equal(plan({ cloud: 'azure', init: 'supervise' }).runtime.metadata, undefined);
    assert.equal(plan({ formats: ['aws'] }).runtime.metadata, undefined, 'the direct init reads nothing');
  });

  it('a data disk brings the supervising init and the block and ext4 drivers, in whole MiB from 128 MiB to 16 TiB', () => {
    const p = plan({ dataDiskBytes: 1e9 });
    assert.equal(p.runtime.init, 'supervise');
    assert.deepEqual(p.runtime.dataDisk, { bytes: 954 * 2 ** 20 });
    assert.ok(p.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'data.config'));
    assert.ok(!plan().kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'data.config'));
    assert.deepEqual(plan({ dataDiskBytes: 128 * 2 ** 20 }).runtime.dataDisk, { bytes: 128 * 2 ** 20 });
    rejects({ dataDiskBytes: 64 * 2 ** 20 }, 'dataDiskBytes', /^dataDiskBytes must be from 128 MiB to 16 TiB, not 64 MiB$/);
    rejects({ dataDiskBytes: 2 ** 45 }, 'dataDiskBytes', /not 33554432 MiB/);
    rejects({ dataDiskBytes: 1.5 }, 'dataDiskBytes', /must be a positive number of bytes/);
    rejects({ dataDiskBytes: 2 ** 30, init: 'direct' }, 'dataDiskBytes', /^dataDiskBytes needs the supervising init, which mounts the disk on \/data/);
  });

  it('--env and --user bring the supervising init with the program\'s default environment and user', () => {
    const p = plan({ env: ['LOG=debug', 'URL=a=b'], user: '1000' });
    assert.equal(p.runtime.init, 'supervise');
    assert.deepEqual(p.runtime.env, [['LOG', 'debug'], ['URL', 'a=b']]);
    assert.deepEqual(p.runtime.user, { uid: 1000, gid: 1000 });
    assert.deepEqual(plan({ user: '1000:50' }).runtime.user, { uid: 1000, gid: 50 });
    rejects({ env: ['LOG=debug'], init: 'direct' }, 'env', /^env needs the supervising init/);
    rejects({ user: '1000', init: 'direct' }, 'user', /^user needs the supervising init/);
    rejects({ user: 'nobody' }, 'user', /^user "nobody" is not UID or UID:GID$/);
    rejects({ env: ['no value'] }, 'env', /is not KEY=VALUE/);
  });

  it('a static address, gateway, DNS servers and host name become the kernel\'s ip=, and bring networking', () => {
    const p = plan({ ip: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3', '1.1.1.1'], hostname: 'web1' });
    assert.equal(p.runtime.net, true);
    assert.match(p.runtime.cmdline, / ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0:web1:eth0:off:10\.0\.2\.3:1\.1\.1\.1$/);
    assert.doesNotMatch(p.runtime.cmdline, /ip=dhcp/);
    assert.match(plan({ ip: '192.168.7.9/20' }).runtime.cmdline, / ip=192\.168\.7\.9:::255\.255\.240\.0::eth0:off$/);
    assert.match(plan({ hostname: 'web1' }).runtime.cmdline, / ip=::::web1:eth0:dhcp$/, 'a host name alone keeps DHCP');
    rejects({ ip: '10.0.2.15' }, 'ip', /is not ADDR\/PREFIX/);
    rejects({ ip: '10.0.2.256/24' }, 'ip', /is not an IPv4 address/);
    rejects({ ip: '10.0.2.15/24', dns: ['a', 'b', 'c'] }, 'dns', /at most two servers/);
    rejects({ gateway: '10.0.2.2' }, 'gateway', /is for a static address, and ip is not given/);
    rejects({ hostname: 'web_1' }, 'hostname', /is not a host name/);
    rejects({ ip: '10.0.2.15/24', cmdline: 'ip=dhcp' }, 'cmdline', /has an ip= and so do --ip\/--hostname/);
    rejects({ ip: '10.0.2.15/24', net: false }, 'ip', /configures networking, and net is false/);
  });

  it('--panic-reboot sets the kernel\'s panic=, before the user\'s own command line', () => {
    assert.match(plan({ panicRebootSeconds: 10 }).runtime.cmdline, /^console=ttyS0 panic=-1 printk\.time=1 quiet panic=10$/);
    assert.match(plan({ panicRebootSeconds: 0, cmdline: 'x=1' }).runtime.cmdline, /quiet panic=-1 x=1$/);
    assert.match(plan({ panicRebootSeconds: 5, net: true }).runtime.cmdline, /quiet ip=dhcp panic=5$/);
    rejects({ panicRebootSeconds: -1 }, 'panicRebootSeconds', /must be a whole number/);
  });

  it('a restart policy brings the supervising init, and refuses the direct one', () => {
    assert.deepEqual(plan().runtime.restart, { policy: 'no', max: 0 });
    const restarting = plan({ restart: 'on-failure', restartMax: 3 });
    assert.equal(restarting.runtime.init, 'supervise');
    assert.deepEqual(restarting.runtime.restart, { policy: 'on-failure', max: 3 });
    rejects({ restart: 'always', init: 'direct' }, 'restart', /^restart always needs the supervising init/);
    rejects({ restartMax: 3 }, 'restartMax', /^restartMax limits restarts, and restart is no$/);
    rejects({ restart: 'sometimes' as never }, 'restart', /must be one of no, on-failure, always/);
  });

  it('health checks: a loopback URL (with or without networking) or a command, defaults resolved, the supervising init implied', () => {
    const web = plan({ health: 'http://localhost:8080/healthz?deep=1', net: true });
    assert.equal(web.runtime.init, 'supervise');
    assert.deepEqual(web.runtime.health, { url: 'http://localhost:8080/healthz?deep=1', intervalSeconds: 10, timeoutSeconds: 5, startPeriodSeconds: 10, retries: 3 });
    assert.deepEqual(plan({ healthCmd: ' /app  -check ', healthRetries: 5 }).runtime.health?.command, ['/app', '-check']);
    const loopbackOnly = plan({ health: 'http://127.0.0.1:8080/' });
    assert.equal(loopbackOnly.runtime.net, false, 'the minimal kernel has TCP/IP on lo: no --net needed');
    assert.equal(loopbackOnly.runtime.health?.url, 'http://127.0.0.1:8080/');
    rejects({ health: 'https://127.0.0.1/', net: true }, 'health', /is not an http:\/\/ URL on loopback/);
    rejects({ health: 'http://example.com/', net: true }, 'health', /is not an http:\/\/ URL on loopback/);
    rejects({ health: 'not a url', net: true }, 'health', /is not a URL/);
    rejects({ healthCmd: 'check.sh' }, 'healthCmd', /must start with an absolute path/);
    rejects({ healthRetries: 2 }, 'health', /settings are given without a check/);
    rejects({ healthCmd: '/app', init: 'direct' }, 'healthCmd', /needs the supervising init/);
  });

  it('refuses unusable numbers', () => {
    rejects({ cpus: 0.05 }, 'cpus', /^cpus must be a number of CPUs, at least 0\.1/);
    rejects({ cpus: Number.NaN }, 'cpus', /^cpus must be/);
    rejects({ memoryLimitBytes: 100 * 2 ** 20 }, 'memoryLimitBytes', /^memoryLimitBytes must be at least 256 MiB/);
    rejects({ jobs: 0 }, 'jobs', /^jobs must be a whole number of at least 1/);
    rejects({ jobs: 1.5 }, 'jobs', /^jobs must be a whole number/);
    rejects({ menuTimeoutSeconds: -1 }, 'menuTimeoutSeconds', /^menuTimeoutSeconds must be a whole number, not -1/);
    rejects({ sourceDateEpoch: 2 ** 32 }, 'sourceDateEpoch', /^sourceDateEpoch must be a whole number of seconds since 1970 up to 4294967295/);
    rejects({ sourceDateEpoch: -1 }, 'sourceDateEpoch', /^sourceDateEpoch must be/);
  });

  it('refuses a $SOURCE_DATE_EPOCH that is not a number of seconds', () => {
    rejects({}, 'SOURCE_DATE_EPOCH', /^SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not "yesterday"$/, { cpus: 1, environmentEpoch: 'yesterday' });
  });

  it('refuses a command line GRUB would change or that spans lines', () => {
    rejects({ cmdline: 'a=1\nb=2' }, 'cmdline', /^cmdline must be one line$/);
    rejects({ cmdline: 'msg="a b"', formats: ['iso'] }, 'cmdline', /^cmdline with double quotes cannot go on an ISO or a disk/);
    rejects({ cmdline: "msg=it's", formats: ['raw'] }, 'cmdline', /^cmdline with single quotes cannot go on an ISO or a disk: GRUB escapes them/);
    rejects({ cmdline: 'path=a\\b', formats: ['aws'] }, 'cmdline', /^cmdline with backslashes cannot/);
    assert.equal(plan({ cmdline: "msg=it's" }).runtime.cmdline.endsWith("msg=it's"), true, 'a direct boot takes it as written');
    assert.match(plan({ cmdline: 'msg="a b"' }).runtime.cmdline, /msg="a b"$/, 'a direct boot passes quotes as written');
  });

  it('refuses an unknown format, listing the known ones', () => {
    assert.throws(() => plan({ formats: ['iso,vmdk9'] }), (error: unknown) => error instanceof Gopid1Error && error.field === 'formats' && /unknown output format "vmdk9"/.test(error.message) && /Known formats: iso, iso-uefi, raw, qcow2, vmdk, vhd, gcp/.test(error.hint ?? ''));
  });

  it('refuses a malformed kernel source without touching the disk', () => {
    rejects({ kernelSource: 'debian:Trixie!' }, 'kernelSource', /unknown Debian release "Trixie!" in kernelSource debian:Trixie!/);
    rejects({ kernelSource: 'kernel.org:v6.12' }, 'kernelSource', /"v6\.12" is not a kernel\.org release version/);
    assert.equal(plan({ kernelSource: './linux.tar.xz' }).kernel.source, './linux.tar.xz', 'a path is looked at when the build runs');
  });

  it('refuses a build without an app', () => {
    rejects({ app: '' }, 'app', /^app must be the directory of a Go module$/);
  });
});

describe('the plan as manifest.json records it', () => {
  it('holds no host paths', () => {
    const p = plan({ kernelSource: '/home/me/linux-6.12.tar.xz', kernelFragments: ['/home/me/extra.config'], out: '/home/me/out', formats: ['iso'] });
    const text = JSON.stringify(planRecord(p));
    assert.doesNotMatch(text, /\/home\/me|examples\/hello/);
    assert.match(text, /"source":"local:linux-6\.12\.tar\.xz"/);
    assert.match(text, /\{"origin":"user","name":"extra\.config"\}/);
    assert.deepEqual((planRecord(p) as { outputs: string[] }).outputs, ['iso']);
  });
});

describe('the output table', () => {
  it('names each format once, each with a summary, a file and a way to boot', () => {
    assert.equal(new Set(OUTPUT_FORMATS.map((f) => f.name)).size, OUTPUT_FORMATS.length);
    for (const format of OUTPUT_FORMATS) {
      assert.ok(format.summary.length > 10);
      assert.match(format.file('my app'), /^my_app\.(iso|raw|qcow2|vmdk|vhd|gcp\.tar\.gz|aws\.raw|efi)$/);
      assert.equal(format.file('..'), format.file('x').replace(/^x/, 'gopid1'));
      assert.ok(format.boot === undefined ? format.name === 'gcp' : ['bios', 'uefi'].includes(format.boot.firmware));
    }
    assert.deepEqual(parseFormats([]), []);
  });

  it('labels each file as the build table shows it, a disk by the firmware it boots under', () => {
    const disk = { file: 'h.raw', bytes: 1, sha256: '', partitioning: 'gpt', diskGuid: '' };
    const label = (name: string, artifacts: object): string => OUTPUT_FORMATS.find((f) => f.name === name)?.label({ artifacts } as never) ?? '';
    assert.equal(label('raw', { raw: { ...disk, firmware: ['bios', 'uefi'] } }), 'GPT disk, BIOS + UEFI');
    assert.equal(label('aws', { aws: { ...disk, firmware: ['uefi'] } }), 'EC2 disk, UEFI');
    assert.equal(label('iso', { iso: { uefi: true } }), 'BIOS + UEFI, USB-hybrid');
    assert.equal(label('uki', {}), 'UKI, UEFI');
  });

  it('boots a disk started by a UKI under UEFI, and the UKI itself by the firmware alone', () => {
    assert.deepEqual(bootMethodOf('raw'), { media: 'disk', firmware: 'bios' });
    assert.deepEqual(bootMethodOf('raw', 'uki'), { media: 'disk', firmware: 'uefi' });
    assert.deepEqual(bootMethodOf('aws', 'uki'), { media: 'disk', firmware: 'uefi', bus: 'nvme', machine: 'q35' });
    assert.deepEqual(bootMethodOf('iso', 'uki'), { media: 'cdrom', firmware: 'bios' }, '--boot does not change the ISO');
    assert.deepEqual(bootMethodOf('uki'), { media: 'efi', firmware: 'uefi' });
    assert.equal(bootMethodOf('gcp', 'uki'), undefined);
  });

  it('tells which formats a build made, also from a manifest older than plans', () => {
    const record = { file: 'hello.iso', bytes: 1, sha256: '' };
    assert.deepEqual(formatsBuilt({ artifacts: { iso: { ...record, uefi: true, hybrid: true } } as never }), ['iso-uefi']);
    assert.deepEqual(formatsBuilt({ artifacts: { iso: { ...record, uefi: false, hybrid: true } } as never }), ['iso']);
    assert.deepEqual(formatsBuilt({ artifacts: {} as never, plan: { outputs: ['iso'] } }), ['iso']);
    assert.ok(provides(['iso-uefi'], 'iso'));
    assert.ok(!provides(['iso'], 'iso-uefi'));
  });
});

describe('planBuild for arm64', () => {
  it('plans the arm64 minimal kernel, its console and an uncompressed Image', () => {
    const p = plan({ arch: 'arm64', init: 'supervise', net: true });
    assert.equal(p.arch, 'arm64');
    assert.deepEqual(p.kernel.fragments[0], { origin: 'shipped', name: 'minimal-arm64.config' });
    assert.ok(p.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'net.config'));
    assert.ok(!p.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'minimal.config'));
    assert.equal(p.kernel.compression, 'none');
    assert.doesNotMatch(p.runtime.cmdline, /console=/, 'the firmware names the console on arm64');
    assert.match(p.runtime.cmdline, /^panic=-1 /);
    assert.match(plan().runtime.cmdline, /^console=ttyS0 /);
  });

  it('plans an arm64 disk: the EFI stub in the kernel, GRUB on the command line, booted under UEFI on virtio-blk', () => {
    const p = plan({ arch: 'arm64', formats: ['raw', 'qcow2'] });
    assert.deepEqual(p.outputs, ['raw', 'qcow2']);
    assert.ok(p.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'efi.config'));
    assert.deepEqual(bootMethodOf('raw', 'grub', 'arm64'), { media: 'disk', firmware: 'uefi', bus: 'virtio' });
    assert.deepEqual(bootMethodOf('qcow2', 'grub', 'arm64'), { media: 'disk', firmware: 'uefi', bus: 'virtio' });
    assert.deepEqual(bootMethodOf('raw', 'grub', 'amd64'), { media: 'disk', firmware: 'bios' });
    const fragments = p.kernel.fragments.flatMap((f) => (f.origin === 'shipped' ? [f.name] : []));
    assert.deepEqual(fragments, ['minimal-arm64.config', 'efi.config', 'acpi-arm64.config'], 'ACPI, as UEFI machines on Arm describe themselves');
    assert.ok(!plan({ arch: 'arm64', net: true }).kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'acpi-arm64.config'), 'a kernel booted directly reads the device tree');
  });

  it('plans the EC2 disk for Graviton: UEFI, ACPI, the aws drivers and their arm64 part, booted on NVMe under UEFI on virt', () => {
    const p = plan({ arch: 'arm64', formats: ['aws'], init: 'supervise' });
    const fragments = p.kernel.fragments.flatMap((f) => (f.origin === 'shipped' ? [f.name] : []));
    assert.deepEqual(fragments, ['minimal-arm64.config', 'efi.config', 'acpi-arm64.config', 'net.config', 'cloud-aws.config', 'cloud-aws-arm64.config']);
    assert.equal(p.runtime.metadata, 'aws');
    assert.match(p.runtime.cmdline, /^panic=-1 .*ip=dhcp/);
    assert.deepEqual(bootMethodOf('aws', 'grub', 'arm64'), { media: 'disk', firmware: 'uefi', bus: 'nvme' });
    assert.deepEqual(bootMethodOf('aws', 'grub', 'amd64'), { media: 'disk', firmware: 'uefi', bus: 'nvme', machine: 'q35' });
    // --format raw --cloud aws makes the same kernel (and hits its cache).
    assert.deepEqual(plan({ arch: 'arm64', formats: ['raw'], cloud: 'aws' }).kernel.fragments, p.kernel.fragments);
    assert.ok(!plan({ formats: ['aws'] }).kernel.fragments.some((f) => f.origin === 'shipped' && (f.name === 'cloud-aws-arm64.config' || f.name === 'acpi-arm64.config')), 'amd64 has neither');
  });

  it('plans an arm64 ISO as the one that boots under UEFI, however it is asked for', () => {
    for (const options of [{ iso: true }, { formats: ['iso'] }, { uefi: true }, { formats: ['iso', 'iso-uefi', 'raw'] }]) {
      const p = plan({ arch: 'arm64', ...options });
      assert.deepEqual(p.outputs.filter((name) => name.startsWith('iso')), ['iso-uefi'], JSON.stringify(options));
      assert.ok(p.kernel.fragments.some((f) => f.origin === 'shipped' && f.name === 'efi.config'), 'GRUB starts the kernel through its EFI stub');
    }
    assert.deepEqual(plan({ iso: true }).outputs, ['iso'], 'amd64 keeps its BIOS ISO');
  });

  it('refuses, before anything is built, what an arm64 build cannot do yet', () => {
    rejects({ arch: 'arm64', formats: ['raw', 'gcp', 'uki'] }, 'formats', /--format gcp is not available for arm64 builds yet/);
    rejects({ arch: 'arm64', kernelConfig: 'defconfig' }, 'kernelConfig', /not available for arm64/);
    rejects({ arch: 'arm64', kernelCompression: 'xz' }, 'kernelCompression', /does not apply to arm64/);
    rejects({ arch: 'arm64', cgo: true }, 'cgo', /not available for arm64/);
    rejects({ arch: 'arm64', watchdogSeconds: 10 }, 'watchdogSeconds', /not available for arm64/);
    rejects({ arch: 'arm64', cloud: 'gcp' }, 'cloud', /--cloud gcp is not available for arm64/);
    rejects({ arch: 'arm64', cloud: 'azure' }, 'cloud', /--cloud azure is not available for arm64/);
  });
});
