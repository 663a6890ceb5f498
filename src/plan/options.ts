import type { Arch, Cloud, DiskBoot, InitMode, InitramfsCompression, KernelCompression, KernelConfigBase, Profile, RestartPolicy } from './vocabulary.js';

/** What to build: the options of the Node API (`build`, `verify`, `compare`). Every field but `app` has a default. */
export interface BuildOptions {
  /** Directory of the Go module to boot. */
  app: string;
  /** Out dir (default "dist"). */
  out?: string;
  /** Write into an out dir that holds files gopid1 did not make (it still deletes only what it made). */
  force?: boolean;
  /** Name of the machine (default: the app directory's name). */
  name?: string;
  arch?: Arch;
  /** Main package inside the module (default "."). */
  package?: string;
  /** debian:<series> (default debian:trixie), kernel.org:<version>, or a path to a tarball or tree. */
  kernelSource?: string;
  kernelConfig?: KernelConfigBase;
  /** `small` leaves container parity (loopback TCP/IP, UNIX sockets, `#!` scripts) out of the minimal kernel. */
  profile?: Profile;
  kernelFragments?: string[];
  kernelSha256?: string;
  /** bzImage compression: zstd (the minimal default: unpacks fast), xz (smallest, slowest to unpack), gzip. */
  kernelCompression?: KernelCompression;
  /** initramfs compression: zstd (default), xz (smallest, slowest to unpack), gzip. The kernel gets that decompressor. */
  compress?: InitramfsCompression;
  /** Extra kernel command line, recorded in the manifest and used by `boot` and the ISO's GRUB entry. */
  cmdline?: string;
  /** Who is PID 1 (default `direct`; `supervise` when a restart policy is asked for). */
  init?: InitMode;
  /** Start the program again when it ends (needs the supervising init; default `no`). */
  restart?: RestartPolicy;
  /** Give up after this many restarts in a row, none of whose runs lasted 60 s (default: no limit). */
  restartMax?: number;
  /** Health check: an http:// URL on loopback (127.0.0.1, localhost, [::1]) answering 2xx or 3xx. */
  health?: string;
  /** Health check: a command in the machine (its argv, split on spaces) exiting 0. */
  healthCmd?: string;
  /** Seconds between checks (default 10), for each one (default 5), before the first (default 10). */
  healthIntervalSeconds?: number;
  healthTimeoutSeconds?: number;
  healthStartPeriodSeconds?: number;
  /** Failed checks in a row that make the program unhealthy: it is stopped, a failure for the restart policy (default 3). */
  healthRetries?: number;
  /**
   * A watchdog the supervising init feeds every third of this many seconds (implies init supervise): the kernel's
   * watchdog driver (i6300esb in QEMU, else the kernel's softdog) resets the machine when the init hangs, or while
   * the health checks find the program unhealthy.
   */
  watchdogSeconds?: number;
  /** The program's default environment, "KEY=VALUE" each (implies init supervise); `gopid1 boot --env` wins over it. */
  env?: string[];
  /** Run the program as this user, "UID" or "UID:GID" (implies init supervise, which stays root). */
  user?: string;
  /**
   * A data disk of this many bytes (whole MiB, at least 128 MiB; implies init supervise): the build writes an empty
   * ext4 image of it as <name>.data.img, and the supervising init mounts the machine's data disk on /data (formatting
   * a blank one on first boot, growing the filesystem to a larger disk) and unmounts it at power-off.
   */
  dataDiskBytes?: number;
  /** Seconds after a kernel panic before the machine reboots (default 0: at once, panic=-1); the kernel's panic=. */
  panicRebootSeconds?: number;
  /** Networking: IPv4 and a virtio NIC in the kernel, configured by the kernel from `ip=` (default ip=dhcp). Implied by the aws and gcp formats. */
  net?: boolean;
  /** A static IPv4 address with its prefix length, "ADDR/PREFIX" (implies net; default DHCP). */
  ip?: string;
  /** The default gateway of a static address. */
  gateway?: string;
  /** Up to two DNS servers of a static address (in /etc/resolv.conf through /proc/net/pnp). */
  dns?: string[];
  /** The machine's host name (implies net), set by the kernel. */
  hostname?: string;
  /** A static IPv6 address with its prefix length, "ADDR/PREFIX" (implies net and init supervise, which sets it; SLAAC works without). */
  ip6?: string;
  /** The default gateway of a static IPv6 address. */
  gateway6?: string;
  /** The drivers of a cloud in the kernel, and networking unless net is false (default none; the aws and gcp formats imply theirs). */
  cloud?: Cloud;
  /** Output formats beyond kernel + initramfs (always written): see OUTPUT_FORMATS. */
  formats?: string[];
  /** Alias of formats: ["iso"]. */
  iso?: boolean;
  /** Alias of formats: ["iso-uefi"] (the ISO also boots under UEFI). */
  uefi?: boolean;
  /** Size of the disk formats in bytes, rounded up to whole MiB (default: the smallest that fits); the space after the ESP stays zeros (sparse). */
  diskSizeBytes?: number;
  /** What starts the disk formats: grub (default; BIOS and UEFI) or uki (the UKI as EFI/BOOT/BOOTX64.EFI; UEFI only). */
  boot?: DiskBoot;
  /** Seconds GRUB shows its menu (default 0). */
  menuTimeoutSeconds?: number;
  cgo?: boolean;
  /** Go build tags, as `go build -tags` takes them (e.g. ["timetzdata"]): the program's build and, with cgo, beside netgo and osusergo. */
  tags?: string[];
  /** Strip symbol tables from the program (-s -w); default true. */
  strip?: boolean;
  /** Parallel kernel compile jobs (default: CPU count, or cpus rounded up). */
  jobs?: number;
  /** CPUs each builder container may use (docker --cpus); default: no limit. */
  cpus?: number;
  /** Memory each builder container may use, in bytes (docker --memory, no swap beyond); default: no limit. */
  memoryLimitBytes?: number;
  /** Reuse the kernel cache and Go's build cache (default true); false builds everything from nothing. */
  cache?: boolean;
  sourceDateEpoch?: number;
}

/** A machine spec (gopid1.yaml, a manifest's `spec`): the build options but for where and how a build runs. */
export type BuildSpec = Omit<BuildOptions, 'app' | 'out' | 'force' | 'cache'>;
