import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, hello, leftovers, listInitramfs, tempDir } from '../helpers/e2e.js';
import type { CompareReport, Manifest } from '../../src/index.js';
import { sha256File } from '../../src/artifacts/files.js';

const skip = e2ePrerequisites();

function manifestOf(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

/** e_machine of an ELF file: 62 x86-64, 183 aarch64. */
function elfMachine(file: string): number {
  return readFileSync(file).readUInt16LE(18);
}

// Every build asks for the EC2 disk (alone or beside the raw one), so they share one arm64 kernel (minimal-arm64 + EFI +
// ACPI + net + the aws drivers): one compile per test run.
describe('--arch arm64: the machine cross-built for arm64 and booted with qemu-system-aarch64 -M virt', { skip }, () => {
  const out = tempDir('arm64-hello');
  const supervisedOut = tempDir('arm64-supervise');

  it('builds an arm64 Image and an initramfs whose init is an aarch64 program', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--arch', 'arm64', '--format', 'raw,aws,iso', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^hello\.iso \(UEFI, USB-hybrid\)\s+[\d,]+/m, 'arm64 has no BIOS: its ISO is the UEFI one');
    assert.match(run.stdout, /^Image\s+[\d,]+\s+[\d.]+\ninitramfs\.cpio\.zst\s+[\d,]+/m);
    const manifest = manifestOf(out);
    assert.equal(manifest.plan?.arch, 'arm64');
    assert.equal(manifest.artifacts.bzImage.file, 'Image');
    assert.equal(manifest.go.env.GOARCH, 'arm64');
    assert.equal(manifest.go.env.GOAMD64, undefined);
    // No console= on arm64: the device tree's stdout-path or ACPI's SPCR table names it (a PL011 here, a 16550 on Graviton).
    assert.doesNotMatch(manifest.boot.cmdline, /console=/);
    assert.match(manifest.boot.cmdline, /ip=dhcp/);
    for (const record of Object.values(manifest.artifacts)) assert.equal(await sha256File(path.join(out, record.file)), record.sha256, record.file);
    assert.equal(elfMachine(path.join(out, 'init')), 183, 'init is an aarch64 ELF');
    assert.equal(readFileSync(path.join(out, 'Image')).subarray(0x38, 0x3c).toString('latin1'), 'ARM\x64', 'an arm64 Image header');
    const config = readFileSync(path.join(out, 'kernel.config'), 'utf8');
    const options = ['CONFIG_ARM64=y', 'CONFIG_SERIAL_AMBA_PL011_CONSOLE=y', 'CONFIG_ARM_PSCI_FW=y', 'CONFIG_KEYBOARD_GPIO=y', 'CONFIG_VIRTIO_NET=y', 'CONFIG_RD_ZSTD=y', 'CONFIG_EFI=y', 'CONFIG_EFI_STUB=y'];
    const forEc2 = ['CONFIG_ACPI=y', 'CONFIG_ACPI_BUTTON=y', 'CONFIG_SERIAL_8250_CONSOLE=y', 'CONFIG_SERIAL_8250_PNP=y', 'CONFIG_BLK_DEV_NVME=y', 'CONFIG_ENA_ETHERNET=y', 'CONFIG_PCIE_AL=y', 'CONFIG_ARM_GIC_V3_ITS=y'];
    for (const option of [...options, ...forEc2]) {
      assert.match(config, new RegExp(`^${option}$`, 'm'), option);
    }
    assert.deepEqual(listInitramfs(path.join(out, 'initramfs.cpio.zst')), ['dev', 'dev/console', 'dev/null', 'etc', 'etc/group', 'etc/hostname', 'etc/hosts', 'etc/passwd', 'etc/resolv.conf', 'init', 'proc', 'root', 'run', 'sys', 'tmp']);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('boots it on virt under emulation and sees "Hello from Golang" three times', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['--json', 'boot', out, '--expect', 'Hello from Golang', '--expect-count', '3', '--timeout', '180']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { outcome: string; machine: string; command: string[] };
    assert.equal(result.outcome, 'expected');
    assert.equal(result.machine, 'virt');
    assert.match(result.command[0] ?? '', /qemu-system-aarch64$/);
    assert.match(readFileSync(path.join(out, 'serial.log'), 'utf8'), /Hello from Golang/);
  });

  it('makes a GPT disk that boots under UEFI alone (GRUB as EFI/BOOT/BOOTAA64.EFI) and boots it under AAVMF with ACPI', { timeout: 10 * 60_000 }, async () => {
    const manifest = manifestOf(out);
    const raw = manifest.artifacts.raw;
    assert.ok(raw, 'the raw disk is recorded');
    assert.deepEqual(raw.firmware, ['uefi']);
    const disk = readFileSync(path.join(out, raw.file));
    assert.equal(disk.subarray(512, 520).toString('latin1'), 'EFI PART', 'a GPT header at LBA 1');
    // One partition, the ESP (type C12A7328-F81F-11D2-BA4B-00A0C93EC93B), and no BIOS boot partition.
    const entries = disk.subarray(1024, 1024 + 4 * 128);
    assert.equal(entries.subarray(0, 16).toString('hex'), '28732ac11ff8d211ba4b00a0c93ec93b');
    assert.ok(entries.subarray(128, 144).equals(Buffer.alloc(16)), 'no second partition');
    assert.ok(disk.includes(Buffer.from('BOOTAA64EFI', 'latin1')), 'the ESP holds BOOTAA64.EFI');
    const run = await runCli(['--json', 'boot', out, '--format', 'raw', '--expect', 'Hello from Golang', '--timeout', '300']);
    assert.equal(run.code, 0, `${run.stderr}\n${readFileSync(path.join(out, 'serial.log'), 'utf8').slice(-3000)}`);
    const result = JSON.parse(run.stdout) as { outcome: string; machine: string; firmware: string; uefi: boolean; command: string[] };
    assert.equal(result.outcome, 'expected');
    assert.equal(result.uefi, true);
    assert.equal(result.firmware, 'QEMU_EFI.fd');
    assert.ok(result.command.includes('virt,acpi=on'), result.command.join(' '));
    assert.ok(result.command.some((arg) => /if=virtio/.test(arg)), 'the disk on virtio-blk');
  });

  it('makes the EC2 disk for Graviton (UEFI only) and boots it as a Nitro instance presents it: UEFI with ACPI, NVMe', { timeout: 10 * 60_000 }, async () => {
    const manifest = manifestOf(out);
    const aws = manifest.artifacts.aws;
    assert.ok(aws, 'the aws disk is recorded');
    assert.deepEqual(aws.firmware, ['uefi'], 'EC2 registers it with boot mode uefi');
    assert.match(readFileSync(path.join(out, aws.file)).subarray(512, 520).toString('latin1'), /^EFI PART$/);
    const run = await runCli(['--json', 'boot', out, '--format', 'aws', '--expect', 'Hello from Golang', '--timeout', '300']);
    assert.equal(run.code, 0, `${run.stderr}\n${readFileSync(path.join(out, 'serial.log'), 'utf8').slice(-3000)}`);
    const result = JSON.parse(run.stdout) as { outcome: string; machine: string; command: string[] };
    assert.equal(result.outcome, 'expected');
    assert.ok(result.command.includes('virt,acpi=on'), result.command.join(' '));
    assert.ok(result.command.some((arg) => /^nvme,/.test(arg)), 'the disk on NVMe');
  });

  it('makes an arm64 UKI (arm64\'s systemd-stub) that AAVMF starts alone, and the EC2 disk started by it', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const ukiOut = tempDir('arm64-uki');
    const built = await runCli(['build', hello, '--arch', 'arm64', '--format', 'uki,aws', '--boot', 'uki', '--out', ukiOut]);
    assert.equal(built.code, 0, built.stderr);
    const manifest = manifestOf(ukiOut);
    const uki = manifest.artifacts.uki;
    assert.ok(uki, 'the UKI is recorded');
    const image = readFileSync(path.join(ukiOut, uki.file));
    // A PE file for arm64: "MZ", then at the PE header's offset "PE\0\0" and machine 0xaa64.
    const pe = image.readUInt32LE(0x3c);
    assert.equal(image.subarray(pe, pe + 4).toString('latin1'), 'PE\0\0');
    assert.equal(image.readUInt16LE(pe + 4), 0xaa64, 'an AArch64 PE image');
    assert.deepEqual(manifest.artifacts.aws?.firmware, ['uefi']);
    assert.ok(readFileSync(path.join(ukiOut, manifest.artifacts.aws?.file ?? '')).includes(Buffer.from('BOOTAA64EFI', 'latin1')), 'the UKI is the ESP\'s BOOTAA64.EFI');
    for (const format of ['uki', 'aws']) {
      const run = await runCli(['--json', 'boot', ukiOut, '--format', format, '--expect', 'Hello from Golang', '--timeout', '300']);
      assert.equal(run.code, 0, `${format}: ${run.stderr}\n${readFileSync(path.join(ukiOut, 'serial.log'), 'utf8').slice(-3000)}`);
      assert.equal((JSON.parse(run.stdout) as { outcome: string }).outcome, 'expected', format);
    }
  });

  it('runs the supervising init on arm64: the program\'s status after a PSCI power-off', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const built = await runCli(['build', path.join(fixtures, 'supervised'), '--arch', 'arm64', '--format', 'aws', '--init', 'supervise', '--out', supervisedOut]);
    assert.equal(built.code, 0, built.stderr);
    assert.equal(elfMachine(path.join(supervisedOut, 'init')), 183, 'the supervising init is built for arm64 too');
    assert.equal(elfMachine(path.join(supervisedOut, 'app')), 183);
    const run = await runCli(['boot', supervisedOut, '--cmdline', 'GOPID1_GREETING=hello -- exit 3', '--timeout', '180']);
    assert.equal(run.code, 3, `${run.stderr}\n${run.stdout}`);
    assert.match(run.stdout, /^pid \d+ ppid 1$/m);
    assert.match(run.stdout, /^env GOPID1_GREETING="hello"$/m);
    assert.match(run.stdout, /^hostname supervised HOSTNAME=supervised HOME=\/root PATH=/m);
    assert.match(run.stdout, /^user root uid 0 home \/root$/m);
    assert.match(run.stdout, /^pty \/dev\/pts\/0 ioctl true stat true$/m);
    // Without --net: TCP/IP on lo (127.0.0.1 and ::1) and UNIX sockets, as in a container run with --network none.
    assert.match(run.stdout, /^loopback tcp4 ok tcp6 ok unix ok$/m);
    assert.match(run.stdout, /^script: script greet\.sh ran with \["héllo" "wörld"\]$/m, 'a #! script runs through the interpreter it names');
    assert.match(run.stdout, /^exec ok$/m);
    assert.match(run.stdout, /^zombies 0$/m);
    assert.match(run.stdout, /^gopid1: app exited with status 3$/m);
    assert.doesNotMatch(run.stdout, /Kernel panic/);
  });

  it('stops it at --timeout through the power button (a GPIO key on virt): the program gets SIGTERM', { timeout: 5 * 60_000 }, async () => {
    const run = await runCli(['boot', supervisedOut, '--cmdline', '-- wait', '--expect', 'never printed', '--timeout', '30']);
    assert.equal(run.code, 124, run.stderr);
    assert.match(run.stderr, /BOOT_TIMEOUT/);
    assert.match(run.stderr, /\| got terminated/);
    assert.match(run.stderr, /\| gopid1: app exited with status 0/);
  });

  it('on the EC2 disk reads its environment from the instance metadata service and stops through the ACPI power button', { timeout: 5 * 60_000 }, async () => {
    // As EC2 does: the user-data through IMDSv2 (emulated by --metadata-server), stop-instances as the power button (GED).
    const run = await runCli(['boot', supervisedOut, '--format', 'aws', '--metadata-server', '--env', 'GOPID1_GREETING=Grüße aus Graviton', '--expect', 'never printed', '--timeout', '90']);
    assert.equal(run.code, 124, `${run.stderr}\n${readFileSync(path.join(supervisedOut, 'serial.log'), 'utf8').slice(-3000)}`);
    const console = readFileSync(path.join(supervisedOut, 'serial.log'), 'utf8');
    assert.match(console, /^env GOPID1_GREETING="Grüße aus Graviton"$/m);
    assert.match(run.stderr, /\| got terminated/);
    assert.match(run.stderr, /\| gopid1: app exited with status 0/);
  });

  it('builds a vendored module for arm64 with no network and boots it', { timeout: 10 * 60_000 }, async () => {
    const vendoredOut = tempDir('arm64-vendored');
    const built = await runCli(['build', path.join(fixtures, 'vendored'), '--arch', 'arm64', '--format', 'aws', '--out', vendoredOut]);
    assert.equal(built.code, 0, built.stderr);
    assert.equal(elfMachine(path.join(vendoredOut, 'init')), 183);
    const run = await runCli(['boot', vendoredOut, '--expect', 'greetings from the vendored module', '--timeout', '180']);
    assert.equal(run.code, 0, run.stderr);
  });

  it('compares the arm64 machine with linux/arm64 images: sizes only where the engine cannot run them', { timeout: 10 * 60_000 }, async () => {
    const compareOut = tempDir('arm64-compare');
    const run = await runCli(['--json', 'compare', hello, '--arch', 'arm64', '--format', 'aws', '--out', compareOut, '--runs', '1']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(path.join(compareOut, 'compare.json'), 'utf8')) as CompareReport;
    assert.equal(report.arch, 'arm64');
    assert.ok(report.vm.bootToFirstOutputMs > 0, `VM boot ${report.vm.bootToFirstOutputMs}`);
    assert.deepEqual(report.containers.map((c) => c.variant), ['scratch', 'distroless'], 'the variants that need no arm64 emulation to build');
    for (const c of report.containers) assert.ok(c.imageBytes > 0 && c.savedGzipBytes > 0, `${c.variant} sizes`);
    const [scratch] = report.containers;
    assert.ok(scratch && Math.abs(scratch.imageBytes - manifestOf(compareOut).artifacts.init.bytes) <= 8 * 1024, 'the scratch image is the arm64 binary');
    const markdown = readFileSync(path.join(compareOut, 'compare.md'), 'utf8');
    assert.match(markdown, /Architecture: \*\*arm64\*\*/);
    assert.doesNotMatch(markdown, /NaN|undefined|Infinity/);
    if (process.arch !== 'arm64' && !existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) {
      assert.match(report.containersNote ?? '', /cannot run linux\/arm64 images/);
      assert.equal(report.containers[0]?.startToFirstOutputMs, null, 'not run: no figure (null in JSON)');
      assert.match(markdown, /Containers not run: the engine is amd64 and cannot run linux\/arm64 images/);
    }
    const golang = await runCli(['compare', hello, '--arch', 'arm64', '--variants', 'golang', '--out', tempDir('arm64-compare-golang')]);
    assert.equal(golang.code, 1, golang.stderr);
    assert.match(golang.stderr, /the golang variant is not available for arm64 builds/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('masters an ISO whose only El Torito entry is EFI/BOOT/BOOTAA64.EFI, and boots it from a CD on virtio-scsi and as a USB stick', { timeout: 10 * 60_000 }, async () => {
    const iso = manifestOf(out).artifacts.iso;
    assert.ok(iso, 'the ISO is recorded');
    assert.deepEqual(iso.firmware, ['uefi']);
    const image = readFileSync(path.join(out, iso.file));
    const catalog = image.readUInt32LE(17 * 2048 + 0x47) * 2048;
    assert.equal(image[catalog + 1], 0xef, 'the validation entry names the EFI platform');
    assert.equal(image[catalog + 64], 0, 'no further section: no BIOS entry');
    assert.ok(image.subarray(0, 0x1b8).every((byte) => byte === 0), 'no BIOS boot code in the MBR');
    assert.equal(image[0x1be + 16 + 4], 0xef, 'an ESP partition over efi.img for USB sticks');
    assert.ok(image.includes(Buffer.from('BOOTAA64EFI', 'latin1')), 'efi.img holds BOOTAA64.EFI');
    for (const as of ['cdrom', 'disk']) {
      const run = await runCli(['--json', 'boot', '--iso', path.join(out, iso.file), '--iso-as', as, '--expect', 'Hello from Golang', '--timeout', '300']);
      assert.equal(run.code, 0, `${as}: ${run.stderr}\n${readFileSync(path.join(out, 'serial.log'), 'utf8').slice(-3000)}`);
      const result = JSON.parse(run.stdout) as { outcome: string; machine: string; uefi: boolean; command: string[] };
      assert.equal(result.outcome, 'expected', as);
      assert.equal(result.machine, 'virt');
      assert.equal(result.uefi, true);
      if (as === 'cdrom') assert.ok(result.command.some((arg) => arg.startsWith('scsi-cd,')), result.command.join(' '));
    }
  });

  it('refuses an amd64 kernel for the arm64 build, and what an arm64 build cannot be yet, before anything runs', async () => {
    const fake = path.join(tempDir('arm64-fake'), 'bzImage');
    const header = Buffer.alloc(0x400);
    header.write('HdrS', 0x202, 'latin1');
    writeFileSync(fake, header);
    const run = await runCli(['boot', out, '--kernel', fake, '--timeout', '10']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /is an amd64 kernel, and the build beside it is arm64/);
    const gcp = await runCli(['build', hello, '--arch', 'arm64', '--format', 'raw,gcp', '--out', tempDir('arm64-gcp')]);
    assert.equal(gcp.code, 1, gcp.stderr);
    assert.match(gcp.stderr, /--format gcp is not available for arm64 builds yet/);
    const ide = await runCli(['boot', out, '--format', 'raw', '--disk-bus', 'ide', '--timeout', '10']);
    assert.equal(ide.code, 1, ide.stderr);
    assert.match(ide.stderr, /no IDE controller/);
  });
});
