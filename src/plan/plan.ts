import path from 'node:path';
import { checkArchOptions, formatsForArch } from './arch.js';
import { badInput, deepFreeze, oneOf, wholeNumber } from './check.js';
import { panicParameter, planDataDisk, planEnv, planHealth, planRestart, planUser, planWatchdog, type DataDiskPlan, type HealthPlan, type RestartPlan, type UserPlan, type WatchdogPlan } from './runtime.js';
import type { EnvEntry } from './env.js';
import type { BuildOptions } from './options.js';
import { planFragments, type PlannedFragment } from './fragments.js';
import { planProfile } from './profile.js';
import { planProgram, type ProgramPlan } from './program.js';
import { ipParameter, machineHostname, planStaticIpv6, planStaticNetwork, type StaticIpv6 } from './network.js';
import { parseSourceSpec } from '../kernel/source.js';
import { kernelNeedsOf, OUTPUT_FORMATS, outputFormat, parseFormats, type OutputName } from '../outputs/table.js';
import {
  ARCHES,
  CLOUDS,
  DEFAULT_INITRAMFS_COMPRESSION,
  DEFAULT_KERNEL_SOURCE,
  DEFAULT_OUT_DIR,
  DEFAULT_SOURCE_DATE_EPOCH,
  DISK_BOOTS,
  INIT_MODES,
  INITRAMFS_COMPRESSIONS,
  KERNEL_COMPRESSIONS,
  KERNEL_CONFIG_BASES,
  kernelCmdline,
  MAX_SOURCE_DATE_EPOCH,
  type Arch,
  type CloudName,
  type DiskBoot,
  type InitMode,
  type InitramfsCompression,
  type KernelCompression,
  type KernelConfigBase,
  type Profile,
} from './vocabulary.js';

/** What the plan needs to know of the host: read by gatherHostFacts, given by hand in tests. */
export interface HostFacts {
  /** CPUs this process may use. */
  cpus: number;
  /** $SOURCE_DATE_EPOCH as set (unchecked). */
  environmentEpoch?: string;
  /** Time of the last git commit that touched the app's directory, when it is in a git work tree. */
  appCommitEpoch?: number;
}

export type { PlannedFragment } from './fragments.js';

/** Everything a build does, every default resolved and every input checked. Immutable. */
export interface BuildPlan {
  readonly arch: Arch;
  readonly name: string;
  readonly app: { readonly dir: string; readonly package: string };
  readonly out: string;
  /** Write into an out dir that holds files gopid1 did not make. */
  readonly force: boolean;
  readonly kernel: {
    readonly source: string;
    readonly base: KernelConfigBase;
    /** What of container parity the minimal kernel holds (`default` for defconfig, which has it all). */
    readonly profile: Profile;
    readonly fragments: readonly PlannedFragment[];
    /** How the kernel image is compressed: asked for, or the base's own (minimal: zstd; defconfig: gzip); none on arm64. */
    readonly compression: KernelCompression | 'none';
    readonly sha256?: string;
    /** Clouds whose drivers are built in: asked for with `cloud`, or implied by a format. */
    readonly clouds: readonly CloudName[];
    readonly jobs: number;
    /** The kernel does not follow the app: fixed unless a time is asked for, so one kernel serves every app. */
    readonly sourceDateEpoch: number;
  };
  /**
   * The program: the main package, or with `test` the package whose test binary (`go test -c`) `gopid1 test` boots;
   * `importPath` names one outside the module instead (the standard library's, a dependency's), built from the module.
   */
  readonly program: ProgramPlan;
  readonly initramfs: { readonly compression: InitramfsCompression };
  /** Formats beyond kernel + initramfs, in table order. */
  readonly outputs: readonly OutputName[];
  /** The disk formats' size (absent: the smallest that fits), and what starts them. */
  readonly disk: { readonly sizeMiB?: number; readonly boot: DiskBoot };
  readonly runtime: {
    readonly init: InitMode;
    /** The supervising init's restart policy; `max` 0 is no limit. */
    readonly restart: RestartPlan;
    /** The supervising init's health checks, when asked for. */
    readonly health?: HealthPlan;
    /** The watchdog the supervising init feeds, when asked for. */
    readonly watchdog?: WatchdogPlan;
    /** The program's default environment. */
    readonly env?: readonly EnvEntry[];
    /** Who the program runs as (absent: root). */
    readonly user?: UserPlan;
    /** The data disk the init mounts on /data, when asked for. */
    readonly dataDisk?: DataDiskPlan;
    /** The static IPv6 address the init sets on eth0, when asked for. */
    readonly ipv6?: StaticIpv6;
    /** The machine's host name (--hostname, or from its name): in /etc/hostname and /etc/hosts; the supervising init sets it, and the kernel with --hostname from ip=. */
    readonly hostname: string;
    /** The program's working directory (`gopid1 test`: its package's copy in the machine); absent: /. */
    readonly workdir?: string;
    /** The cloud whose metadata service the supervising init asks for the instance's user-data (env and secrets): a cloud with one, built in. */
    readonly metadata?: 'aws' | 'gcp';
    readonly cmdline: string;
    readonly net: boolean;
    readonly menuTimeoutSeconds: number;
  };
  readonly limits: { readonly cpus?: number; readonly memoryBytes?: number };
  readonly cache: boolean;
  readonly sourceDateEpoch: number;
}

function checkEpoch(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_SOURCE_DATE_EPOCH) {
    throw badInput(field, `must be a whole number of seconds since 1970 up to ${MAX_SOURCE_DATE_EPOCH}, not ${value}`, 'e.g. 1704067200 (2024-01-01)');
  }
  return value;
}

/** $SOURCE_DATE_EPOCH, checked, when it is set. */
function environmentEpoch(facts: HostFacts): number | undefined {
  const value = facts.environmentEpoch?.trim();
  if (!value) return undefined;
  if (!/^\d+$/.test(value)) throw badInput('SOURCE_DATE_EPOCH', `must be a whole number of seconds since 1970, not "${value}"`, 'e.g. SOURCE_DATE_EPOCH=1704067200');
  return checkEpoch('SOURCE_DATE_EPOCH', Number(value));
}

function planLimits(options: BuildOptions): BuildPlan['limits'] {
  const { cpus, memoryLimitBytes: memory } = options;
  if (cpus !== undefined && (!Number.isFinite(cpus) || cpus < 0.1)) throw badInput('cpus', `must be a number of CPUs, at least 0.1, not ${cpus}`, 'e.g. 1.5');
  if (memory !== undefined && (!Number.isInteger(memory) || memory < 256 * 2 ** 20)) {
    throw badInput('memoryLimitBytes', `must be at least 256 MiB, not ${memory} bytes`, 'e.g. 2 GiB (the kernel build needs about 1 GiB)');
  }
  return { ...(cpus !== undefined ? { cpus } : {}), ...(memory !== undefined ? { memoryBytes: memory } : {}) };
}

function planCmdline(options: BuildOptions, arch: Arch, net: boolean, outputs: readonly OutputName[], boot: DiskBoot): string {
  const extra = options.cmdline ?? '';
  const fixed = planStaticNetwork(options);
  const userIp = /(^|\s)ip=/.test(extra);
  if (fixed && userIp) throw badInput('cmdline', 'has an ip= and so do --ip/--hostname', 'Configure the network one way: the options, or ip= on --cmdline.');
  // The kernel configures eth0 itself; DHCP unless the options or the user's command line say how (ip=…).
  const ip = fixed ? ipParameter(fixed) : net && !userIp ? 'ip=dhcp' : '';
  // Later parameters win: the user's command line after what the options add.
  const cmdline = kernelCmdline([ip, panicParameter(options) ?? '', extra].filter(Boolean).join(' '), arch);
  if (/[\n\r]/.test(cmdline)) throw badInput('cmdline', 'must be one line', 'Separate kernel parameters with spaces.');
  // GRUB puts a backslash before each of these when it builds Linux's command line: it would not arrive as written.
  const changed = [...new Set(cmdline.match(/["'\\]/g) ?? [])];
  if (kernelNeedsOf(outputs, boot).grub && changed.length > 0) {
    const what = changed.map((c) => (c === '"' ? 'double quotes' : c === "'" ? 'single quotes' : 'backslashes')).join(' and ');
    throw badInput('cmdline', `with ${what} cannot go on an ISO or a disk: GRUB escapes them with a backslash before Linux sees them`, 'Use parameters without quotes or backslashes, or leave GRUB out: boot the kernel directly, or a UKI (--format uki, and --boot uki for the disks).');
  }
  return cmdline;
}

/** Networking and cloud drivers: as asked, plus what the formats imply (aws and gcp: their drivers and ip=dhcp). */
function planPlatform(options: BuildOptions, outputs: readonly OutputName[]): { net: boolean; clouds: CloudName[] } {
  const cloud = options.cloud === undefined ? undefined : oneOf('cloud', options.cloud, CLOUDS, 'none');
  const needs = kernelNeedsOf(outputs);
  const implied = outputs.filter((name) => outputFormat(name).needs.clouds.length > 0);
  if (cloud === 'none' && implied.length > 0) {
    throw badInput('cloud', `none leaves out the drivers the ${implied.join(' and ')} format needs`, `Drop --cloud none (the ${implied.join(' and ')} format brings its own drivers).`);
  }
  if (options.net === false && needs.net) {
    throw badInput('net', `false leaves out the networking the ${outputs.filter((name) => outputFormat(name).needs.net).join(' and ')} format needs (ip=dhcp)`, 'Leave networking on for a cloud disk.');
  }
  // In one order whatever asked for them, so the same drivers make the same kernel (and hit its cache).
  const asked = new Set([...(cloud !== undefined && cloud !== 'none' ? [cloud] : []), ...needs.clouds]);
  const clouds = CLOUDS.filter((name): name is CloudName => name !== 'none' && asked.has(name));
  const addressed = options.ip !== undefined || options.hostname !== undefined || options.ip6 !== undefined;
  if (options.net === false && addressed) throw badInput(options.ip !== undefined ? 'ip' : options.ip6 !== undefined ? 'ip6' : 'hostname', 'configures networking, and net is false', 'Drop --no-net.');
  // Every cloud gives its machines an address by DHCP.
  return { net: options.net ?? (needs.net || clouds.length > 0 || addressed), clouds };
}

/** A supervised machine with a cloud's drivers reads its user-data from that cloud's metadata service (aws before gcp). */
function metadataOf(init: InitMode, clouds: readonly CloudName[]): { metadata?: 'aws' | 'gcp' } {
  const cloud = clouds.find((name): name is 'aws' | 'gcp' => name === 'aws' || name === 'gcp');
  return init === 'supervise' && cloud !== undefined ? { metadata: cloud } : {};
}

const MIB = 1024 * 1024;

function planDisk(options: BuildOptions, outputs: readonly OutputName[]): BuildPlan['disk'] {
  const boot = oneOf('boot', options.boot, DISK_BOOTS, 'grub');
  const disks = OUTPUT_FORMATS.filter((format) => format.disk).map((format) => format.name);
  const hasDisk = outputs.some((name) => disks.includes(name));
  if (boot === 'uki' && !hasDisk) {
    const why = outputs.includes('uki') ? 'the uki format is the UKI itself; --boot uki puts it on a disk' : outputs.length > 0 ? `${outputs.join(' and ')} boots through GRUB and is not a disk` : 'no format is asked for';
    throw badInput('boot', `uki starts the disk formats from a UKI, and none is asked for (${why})`, `Add a disk format that UEFI boots: --format ${disks.filter((name) => name !== 'gcp').join('|')}.`);
  }
  const bytes = options.diskSizeBytes;
  if (bytes === undefined) return { boot };
  if (!Number.isInteger(bytes) || bytes <= 0) throw badInput('diskSizeBytes', `must be a positive number of bytes, not ${bytes}`, 'e.g. 1g');
  if (!hasDisk) throw badInput('diskSizeBytes', 'sizes the disk formats, and none is asked for', `Add one: --format ${disks.join('|')}.`);
  return { sizeMiB: Math.ceil(bytes / MIB), boot };
}

/**
 * Resolves every default and checks every input of a build, once: a pure function of the options and the host
 * facts. Errors name the API's fields (`field` says which); the CLI speaks of its flags instead.
 */
export function planBuild(options: BuildOptions, facts: HostFacts): BuildPlan {
  if (typeof options.app !== 'string' || options.app === '') throw badInput('app', 'must be the directory of a Go module', 'e.g. examples/hello');
  const arch = oneOf('arch', options.arch, ARCHES, 'amd64');
  const base = oneOf('kernelConfig', options.kernelConfig, KERNEL_CONFIG_BASES, 'minimal');
  if (options.kernelCompression !== undefined) oneOf('kernelCompression', options.kernelCompression, KERNEL_COMPRESSIONS, 'zstd');
  const compression = oneOf('compress', options.compress, INITRAMFS_COMPRESSIONS, DEFAULT_INITRAMFS_COMPRESSION);
  const restart = planRestart(options);
  const health = planHealth(options);
  const watchdog = planWatchdog(options);
  const env = planEnv(options);
  const user = planUser(options);
  const dataDisk = planDataDisk(options);
  const ipv6 = planStaticIpv6(options);
  const init = oneOf('init', options.init, INIT_MODES, restart.policy === 'no' && !health && !watchdog && !env && !user && !dataDisk && !ipv6 ? 'direct' : 'supervise');
  if (init === 'direct' && restart.policy !== 'no') {
    throw badInput('restart', `${restart.policy} needs the supervising init: with init direct the program is PID 1, and when PID 1 ends the kernel panics`, 'Use --init supervise (or leave --init out).');
  }
  if (init === 'direct' && health) throw badInput(health.url ? 'health' : 'healthCmd', 'needs the supervising init, which runs the checks', 'Use --init supervise (or leave --init out).');
  if (init === 'direct' && watchdog) throw badInput('watchdogSeconds', 'needs the supervising init, which feeds the watchdog', 'Use --init supervise (or leave --init out).');
  if (init === 'direct' && env) throw badInput('env', 'needs the supervising init, which gives the program its environment', 'Use --init supervise (or leave --init out), or put KEY=VALUE on --cmdline for a direct init.');
  if (init === 'direct' && user) throw badInput('user', 'needs the supervising init, which starts the program as that user', 'Use --init supervise (or leave --init out).');
  if (init === 'direct' && ipv6) throw badInput('ip6', 'needs the supervising init, which sets it (the kernel\'s ip= has no IPv6)', 'Use --init supervise (or leave --init out); SLAAC works with either init.');
  if (init === 'direct' && dataDisk) throw badInput('dataDiskBytes', 'needs the supervising init, which mounts the disk on /data', 'Use --init supervise (or leave --init out).');
  const limits = planLimits(options);
  const jobs = wholeNumber('jobs', options.jobs ?? (limits.cpus !== undefined ? Math.max(1, Math.ceil(limits.cpus)) : facts.cpus), 1, '2');
  const menuTimeoutSeconds = wholeNumber('menuTimeoutSeconds', options.menuTimeoutSeconds ?? 0, 0, '5');
  const outputs = formatsForArch(arch, parseFormats([...(options.formats ?? []), ...(options.iso ? ['iso'] : []), ...(options.uefi ? ['iso-uefi'] : [])]));
  const { net, clouds } = planPlatform(options, outputs);
  const disk = planDisk(options, outputs);
  checkArchOptions(arch, options, base, outputs);
  const profile = planProfile(options, base, net, health);
  const explicitEpoch = options.sourceDateEpoch !== undefined ? checkEpoch('sourceDateEpoch', options.sourceDateEpoch) : environmentEpoch(facts);
  const dir = path.resolve(options.app);
  const name = options.name ?? path.basename(dir);
  const source = options.kernelSource ?? DEFAULT_KERNEL_SOURCE;
  parseSourceSpec(source);
  return deepFreeze({
    arch,
    name,
    app: { dir, package: options.package ?? '.' },
    out: path.resolve(options.out ?? DEFAULT_OUT_DIR),
    force: options.force ?? false,
    kernel: {
      source,
      base,
      profile,
      fragments: planFragments(options, { base, profile, initramfs: compression }, outputs, { arch, net, clouds }, { watchdog: watchdog !== undefined, dataDisk: dataDisk !== undefined }),
      compression: arch === 'arm64' ? 'none' : (options.kernelCompression ?? (base === 'minimal' ? 'zstd' : 'gzip')),
      ...(options.kernelSha256 !== undefined ? { sha256: options.kernelSha256 } : {}),
      clouds,
      jobs,
      sourceDateEpoch: explicitEpoch ?? DEFAULT_SOURCE_DATE_EPOCH,
    },
    program: planProgram(options),
    initramfs: { compression },
    outputs,
    disk,
    runtime: { init, restart, ...(health ? { health } : {}), ...(watchdog ? { watchdog } : {}), ...(env ? { env } : {}), ...(user ? { user } : {}), ...(dataDisk ? { dataDisk } : {}), ...(ipv6 ? { ipv6 } : {}), hostname: machineHostname(name, options.hostname), ...metadataOf(init, clouds), cmdline: planCmdline(options, arch, net, outputs, disk.boot), net, menuTimeoutSeconds },
    limits,
    cache: options.cache ?? true,
    sourceDateEpoch: explicitEpoch ?? (facts.appCommitEpoch !== undefined ? checkEpoch('the app\'s last commit time', facts.appCommitEpoch) : DEFAULT_SOURCE_DATE_EPOCH),
  });
}

/** The plan as manifest.json records it: no host paths (fragments by name, the app by its package, no out dir). */
export function planRecord(plan: BuildPlan): Record<string, unknown> {
  const { app, out: _out, force: _force, kernel, ...rest } = plan;
  return {
    ...rest,
    app: { package: app.package },
    kernel: {
      ...kernel,
      source: /^(debian|kernel\.org):/.test(kernel.source) ? kernel.source : `local:${path.basename(kernel.source)}`,
      fragments: kernel.fragments.map((f) => (f.origin === 'user' ? { origin: 'user', name: path.basename(f.path) } : f.origin === 'shipped' ? f : { origin: f.origin, name: f.name, label: f.label })),
    },
  };
}
