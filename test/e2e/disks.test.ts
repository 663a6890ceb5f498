import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Manifest } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();
const MIB = 1024 * 1024;
const BOOT_TIMEOUT = { timeout: 5 * 60_000 };
// The kernel of iso.test's UEFI build (EFI stub, gzip initramfs): one kernel configuration for both files.
const SHARED_KERNEL = ['--compress', 'gzip'];

/** Bytes in 4 KiB blocks that hold anything but zeros: what a sparse copy or an upload of the disk carries. */
function allocatedBytes(disk: Buffer): number {
  let bytes = 0;
  for (let at = 0; at < disk.length; at += 4096) if (disk.subarray(at, at + 4096).some((byte) => byte !== 0)) bytes += 4096;
  return bytes;
}

async function bootDisk(args: string[]): Promise<string> {
  const run = await runCli(['boot', ...args, '--expect', 'Hello from Golang', '--timeout', '180']);
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
  assert.match(run.stdout, /^Hello from Golang$/m);
  return run.stderr;
}

describe('raw GPT disk that boots under BIOS and UEFI', { skip }, () => {
  const out = tempDir('disk-raw');
  const disk = path.join(out, 'hello.raw');

  it('`build --format raw,iso-uefi` writes hello.raw beside the ISO, whole MiB, at most 4 MiB of it not zero', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', out, '--format', 'raw,iso-uefi', ...SHARED_KERNEL]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /hello\.raw \(GPT disk, BIOS \+ UEFI\)\s+[\d,]+/);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.artifacts.raw?.file, 'hello.raw');
    assert.deepEqual(manifest.artifacts.raw?.firmware, ['bios', 'uefi']);
    assert.equal(manifest.artifacts.iso?.uefi, true);
    assert.ok(manifest.disk?.builder.packages.some((p) => p.startsWith('gdisk=')));
    assert.ok(manifest.kernel.fragments.some((f) => f.name === 'efi.config'), 'the raw format asks for the EFI stub');
    const bytes = readFileSync(disk);
    assert.equal(bytes.length % MIB, 0, `${bytes.length} bytes is not whole MiB`);
    assert.equal(bytes.length, manifest.artifacts.raw?.bytes);
    assert.ok(allocatedBytes(bytes) <= 4 * MIB, `${allocatedBytes(bytes)} bytes of the disk are not zero`);
    assert.equal(bytes.subarray(512, 520).toString('latin1'), 'EFI PART', 'a GPT header in LBA 1');
    assert.equal(bytes.readUInt16LE(510), 0xaa55);
    assert.equal(bytes.readBigUInt64LE(0x5c), 2048n, 'the MBR boot code points at GRUB\'s core in the BIOS boot partition');
    assert.match(execFileSync('file', ['-b', disk]).toString(), /DOS\/MBR boot sector/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('is the same disk, byte for byte, when built again', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const again = tempDir('disk-raw-again');
    const run = await runCli(['build', hello, '--out', again, '--format', 'raw', ...SHARED_KERNEL]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(readFileSync(path.join(again, 'hello.raw')).equals(readFileSync(disk)), 'hello.raw differs between two builds');
  });

  it('boots under SeaBIOS as an IDE disk (boot --format raw)', BOOT_TIMEOUT, async () => {
    const stderr = await bootDisk([out, '--format', 'raw']);
    assert.doesNotMatch(stderr, /UEFI, /);
  });

  it('boots under SeaBIOS as a virtio-blk disk', BOOT_TIMEOUT, async () => {
    await bootDisk(['--disk', disk, '--disk-bus', 'virtio']);
  });

  it('boots under OVMF on q35 as an NVMe disk, the way EC2 Nitro presents it', BOOT_TIMEOUT, async () => {
    const stderr = await bootDisk(['--disk', disk, '--disk-bus', 'nvme', '--uefi', '--machine', 'q35']);
    assert.match(stderr, /q35 \(OVMF/);
  });

  it('boots under OVMF as a virtio-scsi disk, the way Compute Engine presents it', BOOT_TIMEOUT, async () => {
    await bootDisk(['--disk', disk, '--disk-bus', 'scsi', '--uefi']);
  });

  it('refuses what is not a disk, and a bus without a disk', async () => {
    let run = await runCli(['boot', '--disk', path.join(out, 'kernel.config')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is not a bootable disk image \(no boot signature 55 AA at 0x1fe\) \[BAD_INPUT\]/);
    run = await runCli(['boot', out, '--disk-bus', 'nvme']);
    assert.match(run.stderr, /--disk-bus needs --disk \(or --format raw\)/);
  });
});

describe('--disk-size: a larger disk, sparse, its backup GPT at its end', { skip }, () => {
  const out = tempDir('disk-size');
  const disk = path.join(out, 'hello.raw');

  it('`build --format raw,qcow2 --disk-size 1g` writes a 1 GiB raw disk that takes what its data takes, and a 1 GiB qcow2', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', out, '--format', 'raw,qcow2', '--disk-size', '1g', ...SHARED_KERNEL]);
    assert.equal(run.code, 0, run.stderr);
    const stat = statSync(disk);
    assert.equal(stat.size, 1024 * MIB);
    assert.ok(stat.blocks * 512 <= 8 * MIB, `${stat.blocks * 512} bytes allocated`);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.disk?.bytes, 1024 * MIB);
    assert.ok((manifest.disk?.minimumBytes ?? 0) < 16 * MIB);
    const handle = openSync(disk, 'r');
    const backup = Buffer.alloc(8);
    readSync(handle, backup, 0, 8, 1024 * MIB - 512);
    closeSync(handle);
    assert.equal(backup.toString('latin1'), 'EFI PART', 'the backup GPT header is in the last sector');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-f', 'qcow2', '--output=json', path.join(out, 'hello.qcow2')]).toString()) as { 'virtual-size': number };
    assert.equal(info['virtual-size'], 1024 * MIB);
  });

  it('boots under OVMF as NVMe and under SeaBIOS as IDE', BOOT_TIMEOUT, async () => {
    await bootDisk(['--disk', disk, '--disk-bus', 'nvme', '--uefi', '--machine', 'q35']);
    await bootDisk(['--disk', disk]);
  });

  it('says the smallest size when asked for less', async () => {
    const run = await runCli(['build', hello, '--out', tempDir('disk-size-small'), '--format', 'raw', '--disk-size', '2m', ...SHARED_KERNEL]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--disk-size of 2 MiB is smaller than the \d+ MiB this disk needs \[BAD_INPUT\]/);
    assert.match(run.stderr, /e\.g\. --disk-size \d+m/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});

describe('the raw disk converted for hypervisors and clouds: qcow2, vmdk, vhd, gcp; and the EC2 disk', { skip }, () => {
  const out = tempDir('disk-converted');
  const file = (extension: string) => path.join(out, `hello${extension}`);
  const info = (name: string, format: string) => JSON.parse(execFileSync('qemu-img', ['info', '-f', format, '--output=json', name]).toString()) as { 'virtual-size': number; format: string; 'format-specific'?: { data?: { 'create-type'?: string } } };

  it('`build --format qcow2,vmdk,vhd,gcp,aws` writes each, reproducibly, qemu-img accepting each with its format', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', out, '--format', 'qcow2,vmdk,vhd,gcp,aws', ...SHARED_KERNEL]);
    assert.equal(run.code, 0, run.stderr);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.artifacts.raw, undefined, 'the raw disk they are made from is not kept unless asked for');
    const diskBytes = manifest.artifacts.qcow2?.diskBytes ?? 0;
    assert.ok(diskBytes > 0 && diskBytes % MIB === 0);
    assert.equal(info(file('.qcow2'), 'qcow2')['virtual-size'], diskBytes);
    execFileSync('qemu-img', ['check', '-f', 'qcow2', file('.qcow2')]);
    const vmdk = info(file('.vmdk'), 'vmdk');
    assert.equal(vmdk['virtual-size'], diskBytes);
    assert.equal(vmdk['format-specific']?.data?.['create-type'], 'streamOptimized');
    execFileSync('qemu-img', ['check', '-f', 'vmdk', file('.vmdk')]);
    const vhd = readFileSync(file('.vhd'));
    assert.equal(info(file('.vhd'), 'vpc')['virtual-size'], diskBytes, 'the fixed VHD keeps the exact size (no CHS rounding)');
    assert.equal(vhd.length, diskBytes + 512);
    const footer = vhd.subarray(vhd.length - 512);
    assert.equal(footer.toString('latin1', 0, 8), 'conectix');
    let sum = 0;
    footer.forEach((byte, at) => (sum += at >= 64 && at < 68 ? 0 : byte));
    assert.equal(footer.readUInt32BE(64), ~sum >>> 0, 'the VHD footer checksum is valid');
    const listing = execFileSync('tar', ['-tvzf', file('.gcp.tar.gz')]).toString().trim().split('\n');
    assert.equal(listing.length, 1);
    assert.match(listing[0] ?? '', new RegExp(`^-rw-r--r-- 0/0\\s+${diskBytes} .* disk\\.raw$`));

    const again = tempDir('disk-converted-again');
    const second = await runCli(['build', hello, '--out', again, '--format', 'qcow2,vmdk,vhd,gcp,aws', ...SHARED_KERNEL]);
    assert.equal(second.code, 0, second.stderr);
    for (const extension of ['.qcow2', '.vmdk', '.vhd', '.gcp.tar.gz', '.aws.raw']) {
      assert.ok(readFileSync(path.join(again, `hello${extension}`)).equals(readFileSync(file(extension))), `hello${extension} differs between two builds`);
    }
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('the gcp and aws formats bring their clouds\' drivers and ip=dhcp; the EC2 disk is a GPT disk for BIOS and UEFI', async () => {
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    const config = readFileSync(path.join(out, 'kernel.config'), 'utf8');
    for (const option of ['BLK_DEV_NVME', 'ENA_ETHERNET', 'GVE', 'SCSI_VIRTIO', 'VIRTIO_NET', 'EFI_STUB']) assert.match(config, new RegExp(`^CONFIG_${option}=y$`, 'm'));
    assert.deepEqual(manifest.kernel.fragments.map((f) => f.name).filter((name) => name.startsWith('cloud-')), ['cloud-aws.config', 'cloud-gcp.config']);
    assert.match(manifest.boot.cmdline, /^console=ttyS0 .* ip=dhcp$/);
    assert.equal(manifest.boot.net, true);
    assert.equal(manifest.artifacts.aws?.file, 'hello.aws.raw');
    const disk = readFileSync(file('.aws.raw'));
    assert.equal(disk.length, manifest.artifacts.qcow2?.diskBytes);
    assert.equal(disk.subarray(512, 520).toString('latin1'), 'EFI PART');
    assert.ok(allocatedBytes(disk) <= 4 * MIB, `${allocatedBytes(disk)} bytes of the EC2 disk are not zero`);
    const run = await runCli(['build', hello, '--out', tempDir('disk-no-cloud'), '--format', 'aws', '--cloud', 'none']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--cloud none leaves out the drivers the aws format needs \[BAD_INPUT\]/);
  });

  it('boots the EC2 disk under OVMF on q35 as NVMe with a NIC, as Nitro presents it (boot --format aws)', BOOT_TIMEOUT, async () => {
    const stderr = await bootDisk([out, '--format', 'aws']);
    assert.match(stderr, /q35 \(OVMF/);
  });

  it('boots the EC2 disk under OVMF as a virtio-scsi disk, the way Compute Engine presents one', BOOT_TIMEOUT, async () => {
    await bootDisk(['--disk', file('.aws.raw'), '--disk-bus', 'scsi', '--uefi']);
  });

  for (const format of ['qcow2', 'vmdk', 'vhd']) {
    it(`boots the ${format} image under SeaBIOS with QEMU's ${format === 'vhd' ? 'vpc' : format} driver (boot --format ${format})`, BOOT_TIMEOUT, async () => {
      await bootDisk([out, '--format', format]);
    });
  }

  it('says the gcp tarball is for import, not for booting here', async () => {
    const run = await runCli(['boot', out, '--format', 'gcp']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the gcp format is for import, not for booting here \[BAD_INPUT\]/);
  });
});

describe('a Unified Kernel Image: started by UEFI firmware alone, as a file and from a disk (--boot uki)', { skip }, () => {
  const out = tempDir('uki');
  const uki = path.join(out, 'hello.efi');
  const disk = path.join(out, 'hello.raw');

  it('`build --format uki,raw --boot uki` writes hello.efi (at most 200 KiB over kernel + initramfs) and a disk whose ESP holds only it', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', out, '--format', 'uki,raw', '--boot', 'uki', ...SHARED_KERNEL]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /hello\.efi \(UKI, UEFI\)\s+[\d,]+/);
    assert.match(run.stdout, /hello\.raw \(GPT disk, UEFI\)\s+[\d,]+/);
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    const bytes = readFileSync(uki);
    assert.equal(manifest.artifacts.uki?.bytes, bytes.length);
    assert.ok(bytes.length <= manifest.artifacts.bzImage.bytes + manifest.artifacts.initramfs.bytes + 200 * 1024, `${bytes.length} bytes`);
    assert.match(execFileSync('file', ['-b', uki]).toString(), /PE32\+ executable \(EFI application\) x86-64/);
    assert.ok(bytes.includes(Buffer.from(manifest.boot.cmdline)), 'the command line is inside the image');
    assert.ok(bytes.includes(Buffer.from('PRETTY_NAME="hello (gopid1)"')), 'its os-release names the machine, not the builder\'s Debian');
    assert.ok(manifest.uki?.builder.packages.some((p) => p.startsWith('systemd-boot-efi=')));
    assert.deepEqual(manifest.artifacts.raw?.firmware, ['uefi']);
    assert.equal(manifest.disk?.boot, 'uki');
    const raw = readFileSync(disk);
    assert.ok(raw.subarray(0, 440).every((byte) => byte === 0), 'no BIOS boot code in the MBR');
    assert.ok(raw.includes(bytes.subarray(0, 4096)), 'the UKI is on the ESP');
    assert.ok(allocatedBytes(raw) <= 4 * MIB, `${allocatedBytes(raw)} bytes of the disk are not zero`);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('is the same UKI and disk, byte for byte, when built again', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const again = tempDir('uki-again');
    const run = await runCli(['build', hello, '--out', again, '--format', 'uki,raw', '--boot', 'uki', ...SHARED_KERNEL]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(readFileSync(path.join(again, 'hello.efi')).equals(readFileSync(uki)), 'hello.efi differs between two builds');
    assert.ok(readFileSync(path.join(again, 'hello.raw')).equals(readFileSync(disk)), 'hello.raw differs between two builds');
  });

  it('boots the UKI under OVMF with no boot loader (boot --format uki)', BOOT_TIMEOUT, async () => {
    const stderr = await bootDisk([out, '--format', 'uki']);
    assert.match(stderr, /UEFI, /);
  });

  it('boots the disk under OVMF, which starts the UKI from its ESP (boot --format raw)', BOOT_TIMEOUT, async () => {
    const stderr = await bootDisk([out, '--format', 'raw']);
    assert.match(stderr, /UEFI, /);
  });

  it('says why --boot uki needs a disk format, and refuses what is not an EFI application', async () => {
    let run = await runCli(['build', hello, '--out', tempDir('uki-bad'), '--format', 'iso', '--boot', 'uki']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--boot uki starts the disk formats from a UKI, and none is asked for \(iso boots through GRUB and is not a disk\) \[BAD_INPUT\]/);
    run = await runCli(['boot', '--efi', path.join(out, 'kernel.config')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is not an EFI application \(no "MZ" PE header at 0\) \[BAD_INPUT\]/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
