import { compressionFragment, decompressorFragment } from '../kernel/fragments.js';
import { kernelNeedsOf, type OutputName } from '../outputs/table.js';
import type { BuildOptions } from './options.js';
import type { Arch, CloudName, InitramfsCompression, KernelConfigBase, Profile } from './vocabulary.js';

/** A kernel config fragment, in the order it is applied. */
export type PlannedFragment =
  /** Shipped with gopid1, in dockerfiles/kernel/fragments/. */
  | { origin: 'shipped'; name: string }
  /** Written by the plan from an option. */
  | { origin: 'generated'; name: string; label: string; text: string }
  /** A file the user gave (a host path: not recorded in the manifest). */
  | { origin: 'user'; path: string };

/** The fragments of a kernel, in order: the base's, generated ones from options, the outputs' needs, the user's. */
export function planFragments(options: BuildOptions, kernel: { base: KernelConfigBase; profile: Profile; initramfs: InitramfsCompression }, outputs: readonly OutputName[], platform: { arch: Arch; net: boolean; clouds: readonly CloudName[] }, runtime: { watchdog: boolean; dataDisk: boolean }): PlannedFragment[] {
  const { arch, net, clouds } = platform;
  const { base, profile, initramfs } = kernel;
  const fragments: PlannedFragment[] = [];
  if (base === 'minimal') fragments.push({ origin: 'shipped', name: arch === 'arm64' ? 'minimal-arm64.config' : 'minimal.config' });
  if (profile === 'small') fragments.push({ origin: 'shipped', name: 'small.config' });
  if (options.kernelCompression !== undefined) {
    fragments.push({ origin: 'generated', name: 'compression.config', label: `--kernel-compression ${options.kernelCompression}`, text: compressionFragment(options.kernelCompression) });
  }
  fragments.push({ origin: 'generated', name: 'initramfs-compression.config', label: `--compress ${initramfs}`, text: decompressorFragment(initramfs, base) });
  if (kernelNeedsOf(outputs).efi) {
    fragments.push({ origin: 'shipped', name: 'efi.config' });
    // Arm machines that UEFI firmware starts describe themselves by ACPI (servers, clouds; virt under AAVMF).
    if (arch === 'arm64') fragments.push({ origin: 'shipped', name: 'acpi-arm64.config' });
  }
  if (net) fragments.push({ origin: 'shipped', name: 'net.config' });
  for (const cloud of clouds) {
    fragments.push({ origin: 'shipped', name: `cloud-${cloud}.config` });
    if (arch === 'arm64' && cloud === 'aws') fragments.push({ origin: 'shipped', name: 'cloud-aws-arm64.config' });
  }
  if (runtime.watchdog) fragments.push({ origin: 'shipped', name: 'watchdog.config' });
  if (runtime.dataDisk) fragments.push({ origin: 'shipped', name: 'data.config' });
  for (const file of options.kernelFragments ?? []) fragments.push({ origin: 'user', path: file });
  return fragments;
}
