import { badInput } from './check.js';
import type { BuildOptions } from './options.js';
import type { Arch, KernelConfigBase } from './vocabulary.js';

/**
 * What an arm64 build can be today: kernel + initramfs (booted with qemu-system-aarch64 -M virt), either init,
 * networking; the minimal kernel. Each option it cannot honour yet is refused here, before anything is built, with
 * what to do instead.
 */
export function checkArchOptions(arch: Arch, options: BuildOptions, base: KernelConfigBase, formats: readonly string[]): void {
  if (arch !== 'arm64') return;
  const notYet = (field: string, what: string): never => {
    throw badInput(field, `${what} is not available for arm64 builds yet`, 'Leave it out for --arch arm64 (kernel + initramfs, booted with `gopid1 boot`), or build for amd64.');
  };
  if (formats.length > 0) notYet('formats', `--format ${formats.join(',')}`);
  if (base !== 'minimal') notYet('kernelConfig', `--kernel-config ${base}`);
  if (options.kernelCompression !== undefined) throw badInput('kernelCompression', 'does not apply to arm64: its kernel Image is not compressed', 'Leave --kernel-compression out for --arch arm64.');
  if (options.cgo) notYet('cgo', '--cgo (a cross C toolchain in the Go builder)');
  if (options.watchdogSeconds !== undefined) notYet('watchdogSeconds', '--watchdog');
  if (options.dataDiskBytes !== undefined) notYet('dataDiskBytes', '--data-disk');
  if (options.cloud !== undefined && options.cloud !== 'none') notYet('cloud', `--cloud ${options.cloud}`);
}
