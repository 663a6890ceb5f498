import type { Command } from 'commander';
import { Option } from 'commander';
import {
  type AccelChoice,
  boot,
  type BootResult,
  DEFAULT_OUT_DIR,
  DISK_BUSES,
  type DiskBus,
  formatNames,
  type MachineChoice,
  type OutputName,
} from '../index.js';
import { collect, globalFlags, positiveInteger, positiveNumber, type CommandContext } from './context.js';
import { formatSeconds, outputMode } from './output.js';

interface BootFlags {
  expect?: string;
  expectCount?: number;
  expectAnywhere?: boolean;
  timeout?: number;
  memory?: number;
  accel: AccelChoice;
  machine: MachineChoice;
  cmdline?: string;
  kernel?: string;
  initrd?: string;
  format?: OutputName;
  disk?: string;
  efi?: string;
  diskBus?: DiskBus;
  iso?: string;
  isoAs?: 'cdrom' | 'disk';
  uefi?: boolean;
  forward?: string[];
  env?: string[];
  envFile?: string[];
  secret?: string[];
  dataDisk?: string;
  metadataServer?: boolean;
  net?: boolean;
  init?: 'direct' | 'supervise';
  quiet?: boolean;
}

/** When the kernel's OOM killer struck: what it means and what to do. */
function oomNote(result: BootResult): string {
  return result.outOfMemory ? `\n  the kernel's OOM killer stopped it: the machine's ${result.memoryMiB} MiB ran out; give it more with --memory` : '';
}

function summary(result: BootResult, expect?: string): string {
  const how = `${result.machine} (${result.firmware}), ${result.accel}${result.accel === 'tcg' ? ` (${result.accelReason})` : ''}, ${result.uefi ? 'UEFI, ' : ''}${result.memoryMiB} MiB`;
  const handover = result.initMs !== undefined ? `/init after ${formatSeconds(result.initMs)}, ` : '';
  const first = `${handover}${result.firstLineMs !== undefined ? `first program line after ${formatSeconds(result.firstLineMs)}` : 'the program printed nothing'}`;
  const end = result.cleanPowerOff === undefined ? '' : result.cleanPowerOff ? '; the supervising init powered the machine off' : '; the machine did not power off by itself';
  switch (result.outcome) {
    case 'expected':
      return `✔ /${expect}/ seen after ${formatSeconds(result.expectMs ?? result.durationMs)}; ${first}; ${how}`;
    case 'exited':
      return result.exitSignal !== undefined
        ? `✖ the program was killed by signal ${result.exitSignal} after ${formatSeconds(result.durationMs)}; ${first}${end}${oomNote(result)}`
        : `${result.exitStatus === 0 ? '✔' : '✖'} the program exited with status ${result.exitStatus} after ${formatSeconds(result.durationMs)}; ${first}${end}`;
    case 'powered-off':
      return `✔ the machine powered off after ${formatSeconds(result.durationMs)}; ${first}`;
    case 'first-output':
      return `✔ stopped after the program's first output; ${first}; ${how}`;
  }
}

/** What became of the data disk, after the summary. */
function dataDiskNote(result: BootResult): string {
  const disk = result.dataDisk;
  if (!disk) return '';
  if (disk.scratch) return '\n  /data was a blank disk for this run only, now removed: keep it with --data-disk FILE';
  return disk.created ? `\n  /data is on ${disk.file}, made blank for this boot` : '';
}

/** The process exit code for a finished boot: the program's own status when it exited. */
export function bootExitCode(result: Pick<BootResult, 'exitStatus' | 'exitSignal'> & { outcome: string }): number {
  if (result.outcome !== 'exited') return 0;
  if (result.exitSignal !== undefined) return 128 + result.exitSignal;
  return result.exitStatus ?? 0;
}

export function registerBoot(program: Command, context: CommandContext): void {
  program
    .command('boot')
    .description('boot an out dir of `gopid1 build` in QEMU, with the serial console on this terminal')
    .argument('[dir]', `out dir of gopid1 build (default: ${DEFAULT_OUT_DIR})`)
    .option('-e, --expect <regex>', 'exit 0 and stop the machine once a line of the program\'s output matches')
    .option('--expect-count <n>', 'wait for this many matching lines', positiveInteger('--expect-count'))
    .option('--expect-anywhere', 'match --expect against every console line: firmware, GRUB, kernel and supervising-init lines too')
    .option('-t, --timeout <seconds>', 'stop and fail after this long (default: none; 120 with --expect)', positiveNumber('--timeout'))
    .option('-m, --memory <mib>', 'guest RAM in MiB (default: sized from the initramfs)', positiveInteger('--memory'))
    .addOption(new Option('--accel <accel>', 'auto = KVM only when usable and the CPU has vmx/svm').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .addOption(new Option('--machine <type>', 'QEMU machine: auto = pc, or q35 for boot --format aws (as EC2 Nitro); microvm starts faster but can hang under software emulation (measured rate: docs/RELIABILITY.md)').choices(['auto', 'pc', 'q35', 'microvm']).default('auto'))
    .option('--cmdline <args>', 'appended to the kernel command line the build recorded')
    .option('--kernel <file>', 'boot this bzImage instead of <dir>/bzImage')
    .option('--initrd <file>', 'boot this initramfs instead of <dir>/initramfs.cpio.gz')
    .addOption(new Option('-f, --format <name>', 'boot the out dir\'s file of this format, as the format is meant to boot (ISO as a CD-ROM, a disk as its target attaches it, a UKI by OVMF alone)').choices(formatNames()))
    .option('--disk <file>', 'boot a disk image of `gopid1 build --format raw` instead, through its GRUB (BIOS, or UEFI with --uefi)')
    .addOption(new Option('--disk-bus <bus>', 'how the disk is attached: ide, virtio (virtio-blk), nvme (as EC2 Nitro), scsi (virtio-scsi, as Compute Engine); default ide').choices([...DISK_BUSES]))
    .option('--efi <file>', 'boot a UKI of `gopid1 build --format uki` instead: UEFI firmware (OVMF) starts it from a FAT drive')
    .option('--iso <file>', 'boot an ISO of `gopid1 build --iso` instead, through its GRUB')
    .addOption(new Option('--iso-as <media>', 'the ISO as a CD-ROM, or as a disk (what dd to a USB stick gives)').choices(['cdrom', 'disk']))
    .option('--uefi', 'boot the ISO or disk through UEFI firmware (OVMF) instead of BIOS')
    .option('-p, --forward <[tcp:|udp:][addr:]host:guest>', 'forward a host port (on 127.0.0.1 unless addr is given) to a guest port; needs a --net build (repeatable)', collect)
    .option('--env <KEY=VALUE>', 'environment for the program, through QEMU\'s fw_cfg, never the kernel command line (repeatable; needs the supervising init)', collect)
    .option('--env-file <file>', 'KEY=VALUE lines for the program\'s environment, as docker run --env-file reads them (repeatable)', collect)
    .option('--secret <NAME=FILE>', 'the file becomes /run/secrets/NAME in the machine: a tmpfs, mode 0400, owned by the program\'s user (repeatable)', collect)
    .option('--metadata-server', 'serve --env, --env-file and --secret as instance user-data through an emulation of the cloud\'s metadata service (169.254.169.254: EC2\'s IMDSv2 or Compute Engine\'s), as the machine of a --cloud aws|gcp build reads them on its cloud, instead of fw_cfg')
    .option('--data-disk <file>', 'the raw disk a --data-disk build mounts on /data, written to; made blank (the machine formats it) when it does not exist (default: a blank disk for this run only)')
    .option('--net', 'attach a NIC on QEMU user networking (default: when the build has --net)')
    .option('--no-net', 'boot without a NIC even if the build has --net')
    .addOption(new Option('--init <mode>', 'who is PID 1, for --kernel/--initrd/--iso without their manifest.json (default: what the build recorded)').choices(['direct', 'supervise']))
    .option('-q, --quiet', 'do not echo the console (it is still written to <dir>/serial.log)')
    .action(async (dir: string | undefined, flags: BootFlags, command: Command) => {
      const global = globalFlags(command);
      const mode = outputMode(global);
      const echo = mode !== 'json' && !flags.quiet;
      const timeoutSeconds = flags.timeout ?? (flags.expect !== undefined ? 120 : undefined);
      const result = await boot({
        ...(dir !== undefined ? { dir } : {}),
        accel: flags.accel,
        machine: flags.machine,
        ...(flags.expect !== undefined ? { expect: flags.expect } : {}),
        ...(flags.expectCount !== undefined ? { expectCount: flags.expectCount } : {}),
        ...(flags.expectAnywhere ? { expectAnywhere: true } : {}),
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...(flags.memory !== undefined ? { memoryMiB: flags.memory } : {}),
        ...(flags.cmdline !== undefined ? { cmdline: flags.cmdline } : {}),
        ...(flags.kernel !== undefined ? { kernel: flags.kernel } : {}),
        ...(flags.initrd !== undefined ? { initrd: flags.initrd } : {}),
        ...(flags.format !== undefined ? { format: flags.format } : {}),
        ...(flags.disk !== undefined ? { disk: flags.disk } : {}),
        ...(flags.efi !== undefined ? { efi: flags.efi } : {}),
        ...(flags.diskBus !== undefined ? { diskBus: flags.diskBus } : {}),
        ...(flags.iso !== undefined ? { iso: flags.iso } : {}),
        ...(flags.isoAs !== undefined ? { isoAs: flags.isoAs } : {}),
        ...(flags.uefi ? { uefi: true } : {}),
        ...(flags.forward ? { forwards: flags.forward } : {}),
        ...(flags.env ? { env: flags.env } : {}),
        ...(flags.envFile ? { envFiles: flags.envFile } : {}),
        ...(flags.secret ? { secrets: flags.secret } : {}),
        ...(flags.dataDisk !== undefined ? { dataDisk: flags.dataDisk } : {}),
        ...(flags.metadataServer ? { metadataServer: true } : {}),
        ...(flags.net !== undefined ? { net: flags.net } : {}),
        ...(flags.init !== undefined ? { init: flags.init } : {}),
        ...(echo ? { onConsole: (line: string) => process.stdout.write(`${line}\n`) } : {}),
        signal: context.signal,
      });
      if (mode === 'json') process.stdout.write(`${JSON.stringify({ ok: true, ...result }, null, 2)}\n`);
      else process.stderr.write(`${summary(result, flags.expect)}${dataDiskNote(result)}\n`);
      context.setExitCode(bootExitCode(result));
    });
}
