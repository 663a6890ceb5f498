import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultMemoryMiB, kernelCmdline, qemuArgs } from '../../src/qemu/command.js';

describe('QEMU command line', () => {
  it('boots the kernel directly with the serial console on stdio and no reboot', () => {
    const args = qemuArgs({ media: { kind: 'direct', kernel: '/d/bzImage', initrd: '/d/initramfs.cpio.gz', cmdline: kernelCmdline() }, memoryMiB: 80, accel: 'tcg' });
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(after('-kernel'), '/d/bzImage');
    assert.equal(after('-initrd'), '/d/initramfs.cpio.gz');
    assert.equal(after('-serial'), 'stdio');
    assert.equal(after('-accel'), 'tcg');
    assert.equal(after('-m'), '80');
    assert.ok(args.includes('-no-reboot'));
    assert.ok(args.includes('-nodefaults'));
    assert.ok(!args.includes('-cpu'), 'TCG keeps QEMU\'s default CPU (GOAMD64=v1 binaries run on it)');
    assert.deepEqual(qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'kvm' }).slice(2, 6), ['-accel', 'kvm', '-cpu', 'host']);
  });

  it('boots an ISO from the CD-ROM drive or as a disk, through OVMF when asked', () => {
    const cdrom = qemuArgs({ media: { kind: 'iso', iso: '/d/a,b.iso', as: 'cdrom' }, memoryMiB: 256, accel: 'tcg', uefiFirmware: '/usr/share/ovmf/OVMF.fd' });
    assert.ok(cdrom.includes('file=/d/a,,b.iso,media=cdrom,if=ide,readonly=on'), 'commas in the path are doubled');
    assert.deepEqual(cdrom.slice(cdrom.indexOf('-boot'), cdrom.indexOf('-boot') + 2), ['-boot', 'd']);
    assert.equal(cdrom[cdrom.indexOf('-bios') + 1], '/usr/share/ovmf/OVMF.fd');
    assert.ok(!cdrom.includes('-kernel'));
    const disk = qemuArgs({ media: { kind: 'iso', iso: '/d/x.iso', as: 'disk' }, memoryMiB: 128, accel: 'tcg' });
    assert.ok(disk.includes('file=/d/x.iso,format=raw,if=ide,snapshot=on'), 'the stick image is never written to');
    assert.ok(!disk.includes('-bios'), 'SeaBIOS unless UEFI is asked for');
  });

  it('puts console=ttyS0 and panic=-1 first and appends extras last', () => {
    const cmdline = kernelCmdline('loglevel=7 foo=bar');
    assert.match(cmdline, /^console=ttyS0 panic=-1 printk\.time=1 /);
    assert.ok(cmdline.endsWith('loglevel=7 foo=bar'));
    assert.equal(kernelCmdline('  '), kernelCmdline());
  });

  it('sizes memory from the initramfs so a 24 MiB program still fits', () => {
    assert.equal(defaultMemoryMiB(650_000, 1_450_000), 80);
    const big = defaultMemoryMiB(25 * 1024 * 1024, 25 * 1024 * 1024);
    assert.ok(big >= 64 + 75, `got ${big}`);
    assert.equal(big % 16, 0);
  });
});
