import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';
import type { Arch } from '../plan/vocabulary.js';

export type AccelChoice = 'auto' | 'kvm' | 'tcg';

/**
 * QEMU machine types: `pc` (i440FX, SeaBIOS), `q35` (ICH9, SeaBIOS), `microvm` (no firmware to speak of, no PCI
 * bus, ACPI for the power button and power-off, virtio-mmio devices). microvm starts a kernel faster, but it has
 * no HPET and no ACPI PM timer: under software emulation the kernel's TSC calibration against the PIT alone
 * sometimes fails and the boot hangs (measured in docs/PERFORMANCE.md), so it is never chosen for you.
 */
export type MachineType = 'pc' | 'q35' | 'microvm' | 'virt';
export type MachineChoice = MachineType | 'auto';

/**
 * `auto` is pc for amd64 (BIOS or UEFI firmware boots an ISO on it, and a kernel booted directly starts reliably)
 * and virt for arm64 (QEMU's generic Arm machine: PL011 UART, GIC, PCIe, PSCI), the only one an arm64 machine uses.
 */
export function resolveMachine(choice: MachineChoice, media: BootMedia['kind'], arch: Arch = 'amd64'): MachineType {
  if (arch === 'arm64') {
    if (choice !== 'auto' && choice !== 'virt') throw new Gopid1Error('BAD_INPUT', `--machine ${choice} is an x86 machine, and this one is arm64`, { hint: 'Leave --machine out (arm64 boots on virt).' });
    return 'virt';
  }
  if (choice === 'virt') throw new Gopid1Error('BAD_INPUT', '--machine virt is QEMU\'s Arm machine, and this one is amd64', { hint: 'Use --machine pc, q35 or microvm, or leave it out.' });
  if (choice === 'auto') return 'pc';
  if (choice === 'microvm' && media !== 'direct') {
    throw new Gopid1Error('BAD_INPUT', '--machine microvm cannot boot an ISO, a disk or an EFI application: it has no firmware that reads CDs or disks', { hint: 'Use --machine pc or q35 for ISOs, disks and UKIs (auto picks pc).' });
  }
  return choice;
}

/** KVM is worth using only when /dev/kvm opens read-write AND the CPU advertises vmx or svm. */
export async function kvmStatus(): Promise<{ usable: boolean; reason: string }> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { usable: false, reason: '/dev/kvm is missing or not accessible' };
  }
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) {
    return { usable: false, reason: '/dev/kvm exists but the CPU advertises neither vmx nor svm (KVM guests would hang)' };
  }
  return { usable: true, reason: '/dev/kvm is accessible and the CPU has hardware virtualisation' };
}

export async function resolveAccel(choice: AccelChoice): Promise<{ accel: 'kvm' | 'tcg'; reason: string }> {
  if (choice === 'tcg') return { accel: 'tcg', reason: 'asked for' };
  const kvm = await kvmStatus();
  if (choice === 'kvm') {
    if (!kvm.usable) {
      throw new Gopid1Error('BAD_INPUT', `--accel kvm is not possible here: ${kvm.reason}`, { hint: 'Use --accel auto (or tcg) to boot under software emulation.' });
    }
    return { accel: 'kvm', reason: 'asked for' };
  }
  return kvm.usable ? { accel: 'kvm', reason: kvm.reason } : { accel: 'tcg', reason: kvm.reason };
}

const MIB = 1024 * 1024;

/**
 * Enough RAM for the kernel, the compressed initramfs, its unpacked copy in the rootfs and the program's
 * heap: 64 MiB plus the initramfs and twice what it unpacks to, rounded up to 16 MiB.
 */
export function defaultMemoryMiB(initrdBytes: number, unpackedBytes: number): number {
  const need = 64 + (initrdBytes + 2 * unpackedBytes) / MIB;
  return Math.ceil(need / 16) * 16;
}

/** How a disk is attached: IDE (any PC), virtio-blk, NVMe (as EC2 Nitro presents disks), virtio-scsi (as Compute Engine does). */
export type DiskBus = 'ide' | 'virtio' | 'nvme' | 'scsi';
export const DISK_BUSES: readonly DiskBus[] = ['ide', 'virtio', 'nvme', 'scsi'];

/**
 * What the machine boots: a kernel and initramfs directly, an ISO as a CD-ROM or as a disk (a USB stick), a disk
 * image, or an EFI application (a UKI) that UEFI firmware starts from a FAT drive.
 */
export type BootMedia =
  | { kind: 'direct'; kernel: string; initrd: string; cmdline: string }
  | { kind: 'iso'; iso: string; as: 'cdrom' | 'disk' }
  | { kind: 'disk'; file: string; bus: DiskBus; format: DiskImageFormat }
  | { kind: 'efi'; file: string };

/** QEMU's names of the disk image formats gopid1 writes: raw, qcow2, vmdk, vpc (VHD). */
export type DiskImageFormat = 'raw' | 'qcow2' | 'vmdk' | 'vpc';

/** A disk image's format from its file name: .qcow2, .vmdk, .vhd, anything else raw. */
export function diskImageFormat(file: string): DiskImageFormat {
  const extension = path.extname(file).toLowerCase();
  return extension === '.qcow2' ? 'qcow2' : extension === '.vmdk' ? 'vmdk' : extension === '.vhd' ? 'vpc' : 'raw';
}

/** QEMU's arguments for a disk image on a bus, never written to (snapshot=on), booted first. */
export function diskArgs(file: string, bus: DiskBus, format: DiskImageFormat = 'raw'): string[] {
  const drive = `file=${qemuOptionValue(file)},format=${format},snapshot=on`;
  switch (bus) {
    case 'ide':
    case 'virtio':
      return ['-drive', `${drive},if=${bus}`, '-boot', 'c'];
    case 'nvme':
      return ['-drive', `${drive},if=none,id=disk0`, '-device', 'nvme,serial=gopid1disk0,drive=disk0,bootindex=0'];
    case 'scsi':
      return ['-device', 'virtio-scsi-pci,id=scsi0', '-drive', `${drive},if=none,id=disk0`, '-device', 'scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0'];
  }
}

/**
 * QEMU's arguments for an ISO: as a CD-ROM on IDE, or on virtio-scsi where the machine has no IDE (virt); as a disk
 * (a USB stick written with dd) on IDE or virtio-blk, never written to.
 */
function isoArgs(iso: string, as: 'cdrom' | 'disk', machine: MachineType): string[] {
  const file = `file=${qemuOptionValue(iso)}`;
  if (machine === 'virt') {
    return as === 'cdrom'
      ? ['-device', 'virtio-scsi-pci,id=scsi0', '-drive', `${file},format=raw,media=cdrom,if=none,id=cd0,readonly=on`, '-device', 'scsi-cd,drive=cd0,bus=scsi0.0,bootindex=0']
      : diskArgs(iso, 'virtio');
  }
  return as === 'cdrom' ? ['-drive', `${file},media=cdrom,if=ide,readonly=on`, '-boot', 'd'] : diskArgs(iso, 'ide');
}

/**
 * QEMU's arguments for the boot media. An EFI application is started from `esp`, a directory holding it as
 * EFI/BOOT/BOOTX64.EFI (BOOTAA64.EFI on arm64), which QEMU presents read-only as a FAT disk (vvfat): the firmware's
 * removable-media path.
 */
function mediaArgs(media: BootMedia, esp: string | undefined, machine: MachineType): string[] {
  switch (media.kind) {
    case 'direct':
      return ['-kernel', media.kernel, '-initrd', media.initrd, '-append', media.cmdline];
    case 'iso':
      return isoArgs(media.iso, media.as, machine);
    case 'disk':
      return diskArgs(media.file, media.bus, media.format);
    case 'efi':
      if (esp === undefined) throw new RangeError('an EFI application boots from a directory holding it as EFI/BOOT/BOOTX64.EFI');
      return ['-drive', `file=fat:${qemuOptionValue(esp)},format=raw,if=virtio,readonly=on`];
  }
}

/** A port of the host forwarded to the guest through QEMU's user networking. */
export interface Forward {
  protocol: 'tcp' | 'udp';
  /** Address on the host to listen on (default 127.0.0.1: not reachable from other machines). */
  hostAddress: string;
  hostPort: number;
  guestPort: number;
}

function port(text: string, what: string, spec: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 65535) {
    throw new Gopid1Error('BAD_INPUT', `--forward ${spec}: ${what} port must be a number from 1 to 65535, not "${text}"`, { hint: 'e.g. --forward 8080:80 (host port 8080 to guest port 80), or --forward udp:5353:53' });
  }
  return value;
}

/** Parses --forward [tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT. */
export function parseForward(spec: string): Forward {
  let rest = spec.trim();
  let protocol: Forward['protocol'] = 'tcp';
  const proto = /^(tcp|udp):/i.exec(rest);
  if (proto) {
    protocol = proto[1]?.toLowerCase() as Forward['protocol'];
    rest = rest.slice(proto[0].length);
  }
  const parts = rest.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new Gopid1Error('BAD_INPUT', `--forward ${spec} is not HOST:GUEST`, { hint: 'e.g. --forward 8080:80 (host port 8080 to guest port 80), --forward 0.0.0.0:8080:80, or --forward udp:5353:53' });
  }
  const [hostAddress, hostPort, guestPort] = parts.length === 3 ? (parts as [string, string, string]) : ['127.0.0.1', parts[0] ?? '', parts[1] ?? ''];
  if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(hostAddress) || hostAddress.split('.').some((octet) => Number(octet) > 255)) {
    throw new Gopid1Error('BAD_INPUT', `--forward ${spec}: "${hostAddress}" is not an IPv4 address of this host`, { hint: 'Leave it out to listen on 127.0.0.1, or give e.g. 0.0.0.0 to listen on every interface.' });
  }
  return { protocol, hostAddress, hostPort: port(hostPort, 'the host', spec), guestPort: port(guestPort, 'the guest', spec) };
}

export interface QemuArgsOptions {
  media: BootMedia;
  /** Default pc. */
  machine?: MachineType;
  memoryMiB: number;
  accel: 'kvm' | 'tcg';
  /** Firmware image for -bios: OVMF for UEFI, qboot for direct kernel boots; QEMU's SeaBIOS when absent. */
  firmware?: string;
  /** A virtio NIC on QEMU's user networking (guest 10.0.2.15, DHCP, outbound NAT), with these forwards and further -netdev user options. */
  net?: { forwards: Forward[]; netdev?: string };
  /** A QMP socket (unix path) for asking the guest to power off. */
  qmpSocket?: string;
  /** For EFI media: the directory holding it as EFI/BOOT/BOOTX64.EFI. */
  esp?: string;
  /** Attach an i6300esb watchdog (PCI; not on microvm), which resets the machine when not fed in time. */
  watchdog?: boolean;
  /** Files handed to the machine through fw_cfg (the run-time configuration). */
  fwCfg?: { name: string; file: string }[];
  /** A raw disk image the machine mounts on /data, attached on virtio-blk and written to. */
  dataDisk?: string;
}

/** QEMU's arguments for the data disk: virtio-blk over PCI (over MMIO on microvm), written to, discards passed on. */
export function dataDiskArgs(file: string, machine: MachineType = 'pc'): string[] {
  return ['-drive', `file=${qemuOptionValue(file)},format=raw,if=none,id=data0,discard=unmap`, '-device', `${machine === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci'},drive=data0,serial=gopid1-data`];
}

/** QEMU's -netdev and -device for user networking with host forwards: virtio over PCI, or over MMIO on microvm. */
export function netArgs(forwards: Forward[], machine: MachineType = 'pc', netdev = ''): string[] {
  const hostfwd = forwards.map((f) => `,hostfwd=${f.protocol}:${f.hostAddress}:${f.hostPort}-:${f.guestPort}`).join('');
  return ['-netdev', `user,id=net0${hostfwd}${netdev}`, '-device', `${machine === 'microvm' ? 'virtio-net-device' : 'virtio-net-pci'},netdev=net0`];
}

/** Commas separate QEMU's -drive options, so a comma inside a value is written twice. */
function qemuOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

/** QEMU's arguments: the serial console on stdio, nothing else attached, no reboot (a panic ends QEMU). */
export function qemuArgs(options: QemuArgsOptions): string[] {
  const machine = options.machine ?? 'pc';
  const boot = mediaArgs(options.media, options.esp, machine);
  return [
    '-M',
    // UEFI firmware on virt hands the kernel either ACPI tables or QEMU's device tree, ACPI when QEMU offers it, as
    // Arm servers and EC2 do (an arm64 kernel for UEFI has ACPI); a kernel started directly reads the device tree.
    machine === 'virt' && options.firmware ? 'virt,acpi=on' : machine,
    '-nodefaults',
    '-no-user-config',
    '-accel',
    options.accel,
    // Under emulation an arm64 machine gets a Cortex-A57 (ARMv8.0, all Go needs): `max` would emulate pointer
    // authentication, which is slow under TCG.
    ...(options.accel === 'kvm' ? ['-cpu', 'host'] : machine === 'virt' ? ['-cpu', 'cortex-a57'] : []),
    '-smp',
    '1',
    '-m',
    String(options.memoryMiB),
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    ...(options.firmware ? ['-bios', options.firmware] : []),
    ...(options.net ? netArgs(options.net.forwards, machine, options.net.netdev) : []),
    ...(options.qmpSocket ? ['-qmp', `unix:${qemuOptionValue(options.qmpSocket)},server=on,wait=off`] : []),
    ...(options.watchdog && machine !== 'microvm' ? ['-device', 'i6300esb'] : []),
    ...(options.fwCfg ?? []).flatMap((item) => ['-fw_cfg', `name=${item.name},file=${qemuOptionValue(item.file)}`]),
    ...(options.dataDisk !== undefined ? dataDiskArgs(options.dataDisk, machine) : []),
    ...boot,
  ];
}
