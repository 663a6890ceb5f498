import type { Command } from 'commander';
import { Option } from 'commander';
import type { BuildOptions, InitMode } from '../build.js';
import { DEFAULT_INITRAMFS_COMPRESSION, INITRAMFS_COMPRESSIONS, type InitramfsCompression } from '../initramfs/compress.js';
import { KERNEL_COMPRESSIONS, type KernelCompression, type KernelConfigBase } from '../kernel/build.js';
import { byteSize, collect, nonNegativeInteger, positiveInteger, positiveNumber } from './context.js';

/** The flags that say what to build; `build` and `verify` share them. */
export interface BuildFlags {
  name?: string;
  package: string;
  kernelSource: string;
  kernelConfig: KernelConfigBase;
  kernelFragment?: string[];
  kernelSha256?: string;
  kernelCompression?: KernelCompression;
  compress: InitramfsCompression;
  cmdline?: string;
  init: InitMode;
  net?: boolean;
  iso?: boolean;
  uefi?: boolean;
  menuTimeout: number;
  cgo?: boolean;
  strip: boolean;
  jobs?: number;
  cpus?: number;
  memoryLimit?: number;
  sourceDateEpoch?: number;
}

export function addBuildOptions(command: Command): Command {
  return command
    .option('--name <name>', 'machine name (default: the app directory name)')
    .option('--package <path>', 'main package inside the module', '.')
    .option('--kernel-source <source>', 'debian:<series> | kernel.org:<version> | path to a tarball or source tree', 'debian:trixie')
    .addOption(new Option('--kernel-config <base>', 'base configuration').choices(['minimal', 'defconfig']).default('minimal'))
    .option('--kernel-fragment <file>', 'extra Kconfig fragment, applied after the base (repeatable)', collect)
    .addOption(new Option('--kernel-compression <method>', 'bzImage compression (default zstd with minimal): xz is smallest but unpacks about 0.5 s slower under software emulation').choices([...KERNEL_COMPRESSIONS]))
    .addOption(
      new Option('--compress <method>', 'initramfs compression, the kernel gets its decompressor: zstd is smaller than gzip and about as quick to unpack, xz smallest but slowest to unpack')
        .choices([...INITRAMFS_COMPRESSIONS])
        .default(DEFAULT_INITRAMFS_COMPRESSION),
    )
    .option('--kernel-sha256 <hex>', 'expected sha256 of a kernel.org tarball (default: kernel.org sha256sums.asc)')
    .option('--cmdline <args>', 'extra kernel command line, recorded for boot and the ISO')
    .addOption(
      new Option('--init <mode>', 'direct: the program is /init (PID 1); supervise: gopid1\'s init mounts, reaps, forwards signals and powers off cleanly, the program is /app')
        .choices(['direct', 'supervise'])
        .default('direct'),
    )
    .option('--net', 'networking: IPv4 + virtio NIC in the kernel, configured by the kernel (ip=dhcp unless --cmdline has ip=)')
    .option('--iso', 'also master <name>.iso: GRUB, BIOS El Torito, USB-hybrid (genisoimage)')
    .option('--uefi', 'the ISO also boots under UEFI (adds EFI to the kernel); implies --iso')
    .option('--menu-timeout <seconds>', 'seconds the ISO\'s GRUB menu waits', nonNegativeInteger('--menu-timeout'), 0)
    .option('--cgo', 'allow cgo, linked fully static (-linkmode=external -extldflags=-static)')
    .option('--no-strip', 'keep the symbol table and DWARF in the program (no -s -w)')
    .option('-j, --jobs <n>', 'parallel kernel compile jobs (default: CPU count, or --cpus rounded up)', positiveInteger('--jobs'))
    .option('--cpus <n>', 'CPUs each builder container may use (docker --cpus), e.g. 1.5', positiveNumber('--cpus'))
    .option('--memory-limit <size>', 'memory each builder container may use, no swap beyond (docker --memory), e.g. 2g', byteSize('--memory-limit'))
    .option('--source-date-epoch <seconds>', 'timestamp for reproducible output (default: $SOURCE_DATE_EPOCH, the app dir\'s last commit, or 2024-01-01)', nonNegativeInteger('--source-date-epoch'));
}

export function buildOptionsFrom(app: string, flags: BuildFlags): BuildOptions {
  return {
    app,
    package: flags.package,
    kernelSource: flags.kernelSource,
    kernelConfig: flags.kernelConfig,
    kernelFragments: flags.kernelFragment ?? [],
    init: flags.init,
    compress: flags.compress,
    net: flags.net ?? false,
    cgo: flags.cgo ?? false,
    strip: flags.strip,
    iso: flags.iso ?? false,
    uefi: flags.uefi ?? false,
    menuTimeoutSeconds: flags.menuTimeout,
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.kernelSha256 !== undefined ? { kernelSha256: flags.kernelSha256 } : {}),
    ...(flags.kernelCompression !== undefined ? { kernelCompression: flags.kernelCompression } : {}),
    ...(flags.cmdline !== undefined ? { cmdline: flags.cmdline } : {}),
    ...(flags.jobs !== undefined ? { jobs: flags.jobs } : {}),
    ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
    ...(flags.memoryLimit !== undefined ? { memoryLimitBytes: flags.memoryLimit } : {}),
    ...(flags.sourceDateEpoch !== undefined ? { sourceDateEpoch: flags.sourceDateEpoch } : {}),
  };
}
