import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  ARCHES,
  type Arch,
  type BuildOptions,
  type Cloud,
  CLOUDS,
  DEFAULT_INITRAMFS_COMPRESSION,
  DEFAULT_KERNEL_SOURCE,
  DEFAULT_OUT_DIR,
  DEFAULT_WATCHDOG_SECONDS,
  DISK_BOOTS,
  type DiskBoot,
  findSpec,
  formatNames,
  Gopid1Error,
  INIT_MODES,
  type InitMode,
  INITRAMFS_COMPRESSIONS,
  type InitramfsCompression,
  isGopid1Error,
  KERNEL_COMPRESSIONS,
  KERNEL_CONFIG_BASES,
  type KernelCompression,
  type KernelConfigBase,
  noSpaceError,
  PROFILES,
  type Profile,
  readSpec,
  RESTART_POLICIES,
  type RestartPolicy,
} from '../index.js';
import { byteSize, collect, nonNegativeInteger, positiveInteger, positiveNumber } from './context.js';

/** The flags that say what to build; `build`, `verify` and `compare` share them. Unset flags stay unset: the plan defaults them. */
export interface BuildFlags {
  spec?: string;
  name?: string;
  arch?: Arch;
  package?: string;
  kernelSource?: string;
  kernelConfig?: KernelConfigBase;
  profile?: Profile;
  kernelFragment?: string[];
  kernelSha256?: string;
  kernelCompression?: KernelCompression;
  compress?: InitramfsCompression;
  cmdline?: string;
  init?: InitMode;
  restart?: RestartPolicy;
  restartMax?: number;
  watchdog?: number | true;
  panicReboot?: number;
  dataDisk?: number;
  env?: string[];
  user?: string;
  ip?: string;
  gateway?: string;
  dns?: string[];
  hostname?: string;
  ip6?: string;
  gateway6?: string;
  health?: string;
  healthCmd?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthStartPeriod?: number;
  healthRetries?: number;
  net?: boolean;
  cloud?: Cloud;
  format?: string[];
  iso?: boolean;
  uefi?: boolean;
  menuTimeout?: number;
  diskSize?: number;
  boot?: DiskBoot;
  cgo?: boolean;
  tags?: string[];
  strip?: boolean;
  jobs?: number;
  cpus?: number;
  memoryLimit?: number;
  sourceDateEpoch?: number;
}

/** The flag of each BuildOptions field, for messages: the plan speaks of fields, the CLI of flags. */
const FLAG_OF: Record<string, string> = {
  out: '--out',
  name: '--name',
  arch: '--arch',
  package: '--package',
  kernelSource: '--kernel-source',
  kernelConfig: '--kernel-config',
  profile: '--profile',
  kernelFragments: '--kernel-fragment',
  kernelSha256: '--kernel-sha256',
  kernelCompression: '--kernel-compression',
  compress: '--compress',
  cmdline: '--cmdline',
  init: '--init',
  restart: '--restart',
  restartMax: '--restart-max',
  watchdogSeconds: '--watchdog',
  panicRebootSeconds: '--panic-reboot',
  dataDiskBytes: '--data-disk',
  env: '--env',
  user: '--user',
  ip: '--ip',
  gateway: '--gateway',
  dns: '--dns',
  hostname: '--hostname',
  ip6: '--ip6',
  gateway6: '--gateway6',
  health: '--health',
  healthCmd: '--health-cmd',
  healthIntervalSeconds: '--health-interval',
  healthTimeoutSeconds: '--health-timeout',
  healthStartPeriodSeconds: '--health-start-period',
  healthRetries: '--health-retries',
  net: '--net',
  cloud: '--cloud',
  formats: '--format',
  menuTimeoutSeconds: '--menu-timeout',
  diskSizeBytes: '--disk-size',
  boot: '--boot',
  tags: '--tags',
  jobs: '--jobs',
  cpus: '--cpus',
  memoryLimitBytes: '--memory-limit',
  sourceDateEpoch: '--source-date-epoch',
};

/** A BAD_INPUT about a BuildOptions field, its message reworded with the field's flag (hints are written for both). */
function inFlagTerms(error: unknown): unknown {
  if (!isGopid1Error(error) || error.field === undefined || FLAG_OF[error.field] === undefined) return error;
  const flag = FLAG_OF[error.field] ?? error.field;
  const reword = (text: string): string => text.replace(new RegExp(`(?<![\\w-])${error.field}(?![\\w-])`, 'g'), flag);
  return new Gopid1Error(error.code, reword(error.message), {
    ...(error.hint !== undefined ? { hint: error.hint } : {}),
    field: error.field,
    ...(error.cause !== undefined ? { cause: error.cause } : {}),
  });
}

/** For a build's .catch: a full disk named as the out dir (when there is one), an option named by its flag. */
export function buildFailure(outDir?: string): (error: unknown) => Promise<never> {
  return async (error) => {
    throw inFlagTerms((await noSpaceError(error, outDir !== undefined ? { outDir } : {})) ?? error);
  };
}

export function addBuildOptions(command: Command): Command {
  return command
    .option('--name <name>', 'machine name (default: the app directory name)')
    .addOption(new Option('--arch <arch>', 'the machine\'s architecture: amd64 (default), or arm64 (booted with qemu-system-aarch64 -M virt; its ISO and disks boot under UEFI alone)').choices([...ARCHES]))
    .option('--package <path>', 'main package inside the module (default: .)')
    .option('--kernel-source <source>', `debian:<series> | kernel.org:<version> | path to a tarball or source tree (default: ${DEFAULT_KERNEL_SOURCE})`)
    .addOption(new Option('--kernel-config <base>', 'base configuration (default: minimal)').choices([...KERNEL_CONFIG_BASES]))
    .addOption(new Option('--profile <name>', 'default: the minimal kernel gives what a FROM-scratch container has (TCP/IP and UNIX sockets on loopback, #! scripts); small: leaves them out (no --net, no --health URL) for a smaller machine').choices([...PROFILES]))
    .option('--kernel-fragment <file>', 'extra Kconfig fragment, applied after the base (repeatable)', collect)
    .addOption(new Option('--kernel-compression <method>', 'bzImage compression (default zstd with minimal): xz is smallest but unpacks about 0.5 s slower under software emulation').choices([...KERNEL_COMPRESSIONS]))
    .addOption(
      new Option('--compress <method>', `initramfs compression, the kernel gets its decompressor: zstd is smaller than gzip and about as quick to unpack, xz smallest but slowest to unpack (default: ${DEFAULT_INITRAMFS_COMPRESSION})`).choices([
        ...INITRAMFS_COMPRESSIONS,
      ]),
    )
    .option('--kernel-sha256 <hex>', 'expected sha256 of a kernel.org tarball (default: kernel.org sha256sums.asc)')
    .option('--cmdline <args>', 'extra kernel command line, recorded for boot and the ISO')
    .addOption(
      new Option('--init <mode>', 'direct: the program is /init (PID 1); supervise: gopid1\'s init mounts, reaps, forwards signals and powers off cleanly, the program is /app (default: direct)').choices([...INIT_MODES]),
    )
    .addOption(
      new Option('--restart <policy>', 'under the supervising init, start the program again when it ends: on-failure (unless it exited 0), always; exit status 125 never restarts; backoff 1 s doubling to 30 s (default: no, and --init supervise when set)').choices([
        ...RESTART_POLICIES,
      ]),
    )
    .option('--restart-max <n>', 'power off after n restarts in a row, none of whose runs lasted 60 s (default: no limit)', positiveInteger('--restart-max'))
    .option('--watchdog [seconds]', 'a watchdog in the kernel (QEMU\'s i6300esb, else softdog) that the supervising init feeds while the program is not unhealthy; not fed for this long, it resets the machine (default 30; implies --init supervise)', positiveInteger('--watchdog'))
    .option('--env <KEY=VALUE>', 'the program\'s default environment, in the initramfs (repeatable; implies --init supervise); `gopid1 boot --env` wins over it. Not for secrets: use `boot --secret`', collect)
    .option('--user <uid[:gid]>', 'run the program as this user and group (numbers; implies --init supervise, which stays root)')
    .option('--data-disk <size>', 'a data disk, e.g. 1g (at least 128m): <name>.data.img, an empty ext4 filesystem; the supervising init mounts the machine\'s data disk on /data, formats a blank one on first boot, grows the filesystem to a larger disk, unmounts it at power-off (implies --init supervise)', byteSize('--data-disk'))
    .option('--panic-reboot <seconds>', 'reboot this long after a kernel panic (the kernel\'s panic=; default 0: at once)', nonNegativeInteger('--panic-reboot'))
    .option('--health <url>', 'the supervising init GETs this http:// URL on loopback (e.g. http://127.0.0.1:8080/healthz) and wants 2xx or 3xx; --health-retries failures in a row stop the program, a failure for --restart')
    .option('--health-cmd <command>', 'health check by a command in the machine (absolute path and arguments, no shell), exit 0 = healthy')
    .option('--health-interval <s>', 'seconds between health checks (default: 10)', positiveInteger('--health-interval'))
    .option('--health-timeout <s>', 'seconds a check may take (default: 5)', positiveInteger('--health-timeout'))
    .option('--health-start-period <s>', 'seconds after each start before the first check (default: 10)', positiveInteger('--health-start-period'))
    .option('--health-retries <n>', 'failed checks in a row that make the program unhealthy (default: 3)', positiveInteger('--health-retries'))
    .option('--net', 'networking: IPv4 + virtio NIC in the kernel, configured by the kernel (ip=dhcp unless --cmdline has ip=)')
    .option('--ip <addr/prefix>', 'a static IPv4 address for eth0, e.g. 10.0.2.15/24, set by the kernel (implies --net; default: DHCP)')
    .option('--gateway <addr>', 'the default gateway of --ip')
    .option('--dns <addr>', 'a DNS server of --ip, in /etc/resolv.conf (repeatable, at most two)', collect)
    .option('--hostname <name>', 'the machine\'s host name, set by the kernel (implies --net)')
    .option('--ip6 <addr/prefix>', 'a static IPv6 address for eth0, e.g. fd00::15/64, set by the supervising init (implies --net and --init supervise; without it IPv6 comes from router advertisements, SLAAC)')
    .option('--gateway6 <addr>', 'the default gateway of --ip6')
    .addOption(
      new Option('--cloud <name>', 'drivers of a cloud in the kernel, and ip=dhcp: aws (NVMe, ENA), gcp (virtio-scsi, NVMe, virtio-net, gVNIC), azure (Hyper-V VMBus, storvsc, netvsc); the aws and gcp formats imply theirs (default: none)').choices([
        ...CLOUDS,
      ]),
    )
    .option('-f, --format <list>', `output formats beyond kernel + initramfs, comma-separated (repeatable): ${formatNames().join(', ')}`, collect)
    .option('--iso', 'same as --format iso: GRUB ISO, BIOS El Torito, USB-hybrid')
    .option('--uefi', 'same as --format iso-uefi: the ISO also boots under UEFI (adds EFI to the kernel)')
    .option('--menu-timeout <seconds>', 'seconds the ISO\'s GRUB menu waits (default: 0)', nonNegativeInteger('--menu-timeout'))
    .option('--disk-size <size>', 'size of the disk formats, e.g. 1g, rounded up to whole MiB; the space after the ESP is sparse zeros (default: the smallest that fits)', byteSize('--disk-size'))
    .addOption(new Option('--boot <loader>', 'what starts the disk formats: grub (BIOS and UEFI) or uki (the UKI as EFI/BOOT/BOOTX64.EFI, UEFI only, no boot loader) (default: grub)').choices([...DISK_BOOTS]))
    .option('--cgo', 'allow cgo, linked fully static (-linkmode=external -extldflags=-static)')
    .option('--tags <list>', 'Go build tags, comma-separated as go build -tags takes them (repeatable), e.g. timetzdata', collect)
    .option('--no-strip', 'keep the symbol table and DWARF in the program (no -s -w)')
    .option('-j, --jobs <n>', 'parallel kernel compile jobs (default: CPU count, or --cpus rounded up)', positiveInteger('--jobs'))
    .option('--cpus <n>', 'CPUs each builder container may use (docker --cpus), e.g. 1.5', positiveNumber('--cpus'))
    .option('--memory-limit <size>', 'memory each builder container may use, no swap beyond (docker --memory), e.g. 2g', byteSize('--memory-limit'))
    .option('--spec <file>', 'a machine spec: gopid1.yaml or .json (default: the one in the app dir, if any), or a build\'s manifest.json to build the same machine again; flags win over it (`gopid1 schema` prints its keys)')
    .option('--source-date-epoch <seconds>', 'timestamp for reproducible output (default: $SOURCE_DATE_EPOCH, the app dir\'s last commit, or 2024-01-01)', nonNegativeInteger('--source-date-epoch'));
}

/** The out dir option of commands that build or read a build. */
export function addOutOption(command: Command, description: string): Command {
  return command.option('-o, --out <dir>', `${description} (default: ${DEFAULT_OUT_DIR})`);
}

/** BuildOptions from the flags: only what was given; planBuild resolves the rest. */
export function buildOptionsFrom(app: string, flags: BuildFlags): BuildOptions {
  const given = {
    name: flags.name,
    arch: flags.arch,
    package: flags.package,
    kernelSource: flags.kernelSource,
    kernelConfig: flags.kernelConfig,
    profile: flags.profile,
    kernelFragments: flags.kernelFragment,
    kernelSha256: flags.kernelSha256,
    kernelCompression: flags.kernelCompression,
    compress: flags.compress,
    cmdline: flags.cmdline,
    init: flags.init,
    restart: flags.restart,
    restartMax: flags.restartMax,
    watchdogSeconds: flags.watchdog === true ? DEFAULT_WATCHDOG_SECONDS : flags.watchdog,
    panicRebootSeconds: flags.panicReboot,
    dataDiskBytes: flags.dataDisk,
    env: flags.env,
    user: flags.user,
    ip: flags.ip,
    gateway: flags.gateway,
    dns: flags.dns,
    hostname: flags.hostname,
    ip6: flags.ip6,
    gateway6: flags.gateway6,
    health: flags.health,
    healthCmd: flags.healthCmd,
    healthIntervalSeconds: flags.healthInterval,
    healthTimeoutSeconds: flags.healthTimeout,
    healthStartPeriodSeconds: flags.healthStartPeriod,
    healthRetries: flags.healthRetries,
    net: flags.net,
    cloud: flags.cloud,
    formats: flags.format,
    iso: flags.iso,
    uefi: flags.uefi,
    menuTimeoutSeconds: flags.menuTimeout,
    diskSizeBytes: flags.diskSize,
    boot: flags.boot,
    cgo: flags.cgo,
    tags: flags.tags,
    strip: flags.strip,
    jobs: flags.jobs,
    cpus: flags.cpus,
    memoryLimitBytes: flags.memoryLimit,
    sourceDateEpoch: flags.sourceDateEpoch,
  };
  return { app, ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) };
}

/** The flags given on the command line: commander's defaults must not override a spec. */
function givenFlags<T extends BuildFlags>(flags: T, command: Command): T {
  return Object.fromEntries(Object.entries(flags).filter(([key]) => command.getOptionValueSource(key) !== 'default')) as T;
}

/** The build's options: the spec (--spec, else gopid1.yaml, .yml or .json in the app dir), then the flags given, which win. */
export async function buildOptionsWithSpec(app: string, flags: BuildFlags, command: Command): Promise<BuildOptions> {
  const file = flags.spec ?? (await findSpec(path.resolve(app)));
  const spec = file !== undefined ? await readSpec(file, path.resolve(app)) : {};
  return { ...spec, ...buildOptionsFrom(app, givenFlags(flags, command)) };
}
