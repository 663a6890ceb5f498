import { badInput, oneOf } from './check.js';
import type { HealthPlan } from './runtime.js';
import type { BuildOptions } from './options.js';
import { PROFILES, type KernelConfigBase, type Profile } from './vocabulary.js';

/**
 * `--profile`: what of container parity the minimal kernel holds. `small` leaves out TCP/IP, UNIX sockets and `#!`
 * scripts, so it refuses what needs them: networking and a health check over HTTP.
 */
export function planProfile(options: BuildOptions, base: KernelConfigBase, net: boolean, health: HealthPlan | undefined): Profile {
  const profile = oneOf('profile', options.profile, PROFILES, 'default');
  if (profile === 'default') return profile;
  if (base !== 'minimal') throw badInput('profile', 'small trims the minimal kernel, and the base is defconfig', 'Leave --profile out with --kernel-config defconfig.');
  if (net) {
    throw badInput('profile', 'small leaves TCP/IP out of the kernel, and this machine has networking', 'Drop --profile small, or the networking (--net, and what implies it: --ip, --ip6, --hostname, --cloud, the aws and gcp formats).');
  }
  if (health?.url !== undefined) {
    throw badInput('profile', `small leaves TCP/IP out of the kernel, and the health check ${health.url} needs it`, 'Check with --health-cmd instead, or drop --profile small.');
  }
  return profile;
}
