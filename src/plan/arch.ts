import { parseFormats, type OutputName } from '../outputs/table.js';
import { badInput } from './check.js';
import type { BuildOptions } from './options.js';
import { ARCH_FACTS, type Arch, type KernelConfigBase } from './vocabulary.js';

/**
 * The formats an arm64 build can make today: the UEFI ISO (BOOTAA64.EFI its only El Torito entry), the UEFI disk
 * (GRUB or the UKI as BOOTAA64.EFI), its conversions, the EC2 (Graviton) disk, the UKI.
 */
const ARM64_FORMATS: readonly string[] = ['iso', 'iso-uefi', 'raw', 'qcow2', 'vmdk', 'vhd', 'aws', 'uki'];

/** Where the architecture has no BIOS (arm64), an ISO asked for as `iso` is the one that boots under UEFI. */
export function formatsForArch(arch: Arch, formats: readonly OutputName[]): OutputName[] {
  if (ARCH_FACTS[arch].bios || !formats.includes('iso')) return [...formats];
  return parseFormats(formats.map((name) => (name === 'iso' ? 'iso-uefi' : name)));
}

/**
 * What an arm64 build can be today: kernel + initramfs (booted with qemu-system-aarch64 -M virt), a UEFI ISO, a UEFI disk (raw,
 * qcow2, vmdk, vhd, aws; GRUB or --boot uki), a UKI, either init, networking, EC2's drivers; the minimal kernel. Each
 * option it cannot honour yet is refused here, before anything is built, with what to do instead.
 */
export function checkArchOptions(arch: Arch, options: BuildOptions, base: KernelConfigBase, formats: readonly string[]): void {
  if (arch !== 'arm64') return;
  const notYet = (field: string, what: string): never => {
    throw badInput(field, `${what} is not available for arm64 builds yet`, `Leave it out for --arch arm64 (kernel + initramfs, or the disk formats ${ARM64_FORMATS.join(', ')}), or build for amd64.`);
  };
  const unavailable = formats.filter((name) => !ARM64_FORMATS.includes(name));
  if (unavailable.length > 0) notYet('formats', `--format ${unavailable.join(',')}`);
  if (base !== 'minimal') notYet('kernelConfig', `--kernel-config ${base}`);
  if (options.kernelCompression !== undefined) throw badInput('kernelCompression', 'does not apply to arm64: its kernel Image is not compressed', 'Leave --kernel-compression out for --arch arm64.');
  if (options.cgo) notYet('cgo', '--cgo (a cross C toolchain in the Go builder)');
  if (options.watchdogSeconds !== undefined) notYet('watchdogSeconds', '--watchdog');
  if (options.dataDiskBytes !== undefined) notYet('dataDiskBytes', '--data-disk');
  if (options.cloud === 'gcp' || options.cloud === 'azure') notYet('cloud', `--cloud ${options.cloud}`);
}
