import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelCmdline } from '../../src/plan/vocabulary.js';
import { defaultMemoryMiB, parseForward, qemuArgs, resolveMachine } from '../../src/qemu/command.js';

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
    const kvm = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'kvm' });
    assert.deepEqual(kvm.slice(kvm.indexOf('-accel'), kvm.indexOf('-accel') + 4), ['-accel', 'kvm', '-cpu', 'host']);
  });

  it('boots an arm64 machine on virt with a Cortex-A57 under emulation, its console on the PL011', () => {
    const args = qemuArgs({ media: { kind: 'direct', kernel: '/d/Image', initrd: '/d/i', cmdline: kernelCmdline(undefined, 'arm64') }, machine: 'virt', memoryMiB: 80, accel: 'tcg', net: { forwards: [] } });
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(after('-M'), 'virt');
    assert.equal(after('-cpu'), 'cortex-a57');
    assert.equal(after('-kernel'), '/d/Image');
    assert.match(after('-append') ?? '', /^panic=-1 /, 'the device tree\'s stdout-path names the console');
    assert.ok(!args.includes('-bios'), 'QEMU loads the kernel itself');
    assert.ok(args.includes('virtio-net-pci,netdev=net0'));
    assert.equal(resolveMachine('auto', 'direct', 'arm64'), 'virt');
    assert.throws(() => resolveMachine('q35', 'direct', 'arm64'), /an x86 machine, and this one is arm64/);
    assert.throws(() => resolveMachine('virt', 'direct', 'amd64'), /QEMU's Arm machine, and this one is amd64/);
  });

  it('boots an arm64 disk through AAVMF on virt with ACPI tables, as Arm servers and EC2 Graviton describe themselves', () => {
    const args = qemuArgs({ media: { kind: 'disk', file: '/d/a.raw', bus: 'virtio', format: 'raw' }, machine: 'virt', memoryMiB: 256, accel: 'tcg', firmware: '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd' });
    assert.equal(args[args.indexOf('-M') + 1], 'virt,acpi=on');
    assert.equal(args[args.indexOf('-bios') + 1], '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd');
    assert.ok(args.includes('file=/d/a.raw,format=raw,snapshot=on,if=virtio'));
  });

  it('boots an ISO from the CD-ROM drive or as a disk, through OVMF when asked', () => {
    const cdrom = qemuArgs({ media: { kind: 'iso', iso: '/d/a,b.iso', as: 'cdrom' }, memoryMiB: 256, accel: 'tcg', firmware: '/usr/share/ovmf/OVMF.fd' });
    assert.ok(cdrom.includes('file=/d/a,,b.iso,media=cdrom,if=ide,readonly=on'), 'commas in the path are doubled');
    assert.deepEqual(cdrom.slice(cdrom.indexOf('-boot'), cdrom.indexOf('-boot') + 2), ['-boot', 'd']);
    assert.equal(cdrom[cdrom.indexOf('-bios') + 1], '/usr/share/ovmf/OVMF.fd');
    assert.ok(!cdrom.includes('-kernel'));
    const disk = qemuArgs({ media: { kind: 'iso', iso: '/d/x.iso', as: 'disk' }, memoryMiB: 128, accel: 'tcg' });
    assert.ok(disk.includes('file=/d/x.iso,format=raw,snapshot=on,if=ide'), 'the stick image is never written to');
    assert.ok(!disk.includes('-bios'), 'SeaBIOS unless UEFI is asked for');
  });

  it('boots an arm64 ISO from a CD-ROM on virtio-scsi (virt has no IDE), or as a stick on virtio-blk', () => {
    const cdrom = qemuArgs({ media: { kind: 'iso', iso: '/d/a.iso', as: 'cdrom' }, machine: 'virt', memoryMiB: 256, accel: 'tcg', firmware: '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd' });
    const devices = cdrom.flatMap((arg, i) => (cdrom[i - 1] === '-device' ? [arg] : []));
    assert.deepEqual(devices, ['virtio-scsi-pci,id=scsi0', 'scsi-cd,drive=cd0,bus=scsi0.0,bootindex=0']);
    assert.ok(cdrom.includes('file=/d/a.iso,format=raw,media=cdrom,if=none,id=cd0,readonly=on'));
    assert.ok(!cdrom.some((arg) => arg.includes('if=ide')));
    const disk = qemuArgs({ media: { kind: 'iso', iso: '/d/a.iso', as: 'disk' }, machine: 'virt', memoryMiB: 256, accel: 'tcg', firmware: '/f' });
    assert.ok(disk.includes('file=/d/a.iso,format=raw,snapshot=on,if=virtio'));
  });

  it('attaches an i6300esb watchdog when asked, but not on microvm, which has no PCI', () => {
    const pc = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'tcg', watchdog: true });
    assert.equal(pc[pc.indexOf('-device') + 1], 'i6300esb');
    const microvm = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, machine: 'microvm', memoryMiB: 64, accel: 'tcg', watchdog: true });
    assert.ok(!microvm.includes('i6300esb'));
    assert.ok(!qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'tcg' }).includes('i6300esb'));
  });

  it('starts an EFI application from a read-only FAT drive of its directory, and needs that directory', () => {
    const args = qemuArgs({ media: { kind: 'efi', file: '/d/hello.efi' }, memoryMiB: 256, accel: 'tcg', firmware: '/usr/share/ovmf/OVMF.fd', esp: '/tmp/b,1/esp' });
    assert.ok(args.includes('file=fat:/tmp/b,,1/esp,format=raw,if=virtio,readonly=on'));
    assert.equal(args[args.indexOf('-bios') + 1], '/usr/share/ovmf/OVMF.fd');
    assert.throws(() => qemuArgs({ media: { kind: 'efi', file: '/d/hello.efi' }, memoryMiB: 256, accel: 'tcg' }), /EFI\/BOOT\/BOOTX64\.EFI/);
    assert.throws(() => resolveMachine('microvm', 'efi'), /microvm cannot boot an ISO, a disk or an EFI application/);
  });

  it('boots on pc unless told otherwise, and refuses an ISO on microvm', () => {
    assert.equal(resolveMachine('auto', 'direct'), 'pc');
    assert.equal(resolveMachine('auto', 'iso'), 'pc');
    assert.equal(resolveMachine('q35', 'iso'), 'q35');
    assert.throws(() => resolveMachine('microvm', 'iso'), /microvm cannot boot an ISO/);
    const args = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, machine: 'microvm', memoryMiB: 64, accel: 'tcg', net: { forwards: [] } });
    assert.deepEqual(args.slice(0, 2), ['-M', 'microvm']);
    assert.equal(args[args.indexOf('-device') + 1], 'virtio-net-device,netdev=net0', 'microvm has no PCI: virtio over MMIO');
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

  it('attaches a virtio NIC on user networking with host forwards, and a QMP socket to press the power button', () => {
    const forwards = [parseForward('8080:80'), parseForward('udp:0.0.0.0:5353:53')];
    const args = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'tcg', net: { forwards }, qmpSocket: '/tmp/q,1/qmp.sock' });
    assert.equal(args[args.indexOf('-netdev') + 1], 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53');
    assert.equal(args[args.indexOf('-device') + 1], 'virtio-net-pci,netdev=net0');
    assert.equal(args[args.indexOf('-qmp') + 1], 'unix:/tmp/q,,1/qmp.sock,server=on,wait=off');
    const plain = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'tcg' });
    assert.ok(!plain.includes('-netdev') && !plain.includes('-qmp'), 'no NIC and no QMP unless asked for');
  });
});

describe('--forward', () => {
  it('reads [tcp:|udp:][addr:]host:guest, listening on 127.0.0.1 unless told otherwise', () => {
    assert.deepEqual(parseForward('8080:80'), { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 });
    assert.deepEqual(parseForward('UDP:5353:53'), { protocol: 'udp', hostAddress: '127.0.0.1', hostPort: 5353, guestPort: 53 });
    assert.deepEqual(parseForward('tcp:0.0.0.0:2222:22'), { protocol: 'tcp', hostAddress: '0.0.0.0', hostPort: 2222, guestPort: 22 });
  });

  it('refuses what QEMU would misread, naming the problem', () => {
    assert.throws(() => parseForward('8080'), /--forward 8080 is not HOST:GUEST/);
    assert.throws(() => parseForward('8080:'), /is not HOST:GUEST/);
    assert.throws(() => parseForward('0:80'), /the host port must be a number from 1 to 65535, not "0"/);
    assert.throws(() => parseForward('8080:70000'), /the guest port must be a number from 1 to 65535/);
    assert.throws(() => parseForward('8080:http'), /the guest port/);
    assert.throws(() => parseForward('localhost:8080:80'), /"localhost" is not an IPv4 address/);
    assert.throws(() => parseForward('sctp:1:2'), /is not HOST:GUEST|IPv4/);
  });
});
