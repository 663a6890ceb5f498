import { badInput, oneOf, wholeNumber } from './check.js';
import { parseEnvAssignment, type EnvEntry } from './env.js';
import type { BuildOptions } from './options.js';
import { RESTART_POLICIES, type RestartPolicy } from './vocabulary.js';

/** What the supervising init does at run time: its restart policy and health checks, planned from the options. */

/** The restart policy; `max` 0 is no limit. */
export interface RestartPlan {
  readonly policy: RestartPolicy;
  readonly max: number;
}

export interface HealthPlan {
  readonly url?: string;
  readonly command?: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly startPeriodSeconds: number;
  readonly retries: number;
}

/** An http:// URL on loopback, as the init's checker reaches it (no DNS, no TLS). */
function healthUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badInput('health', `"${text}" is not a URL`, 'e.g. http://127.0.0.1:8080/healthz');
  }
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || url.username || url.password || url.hash) {
    throw badInput('health', `"${text}" is not an http:// URL on loopback`, 'The init checks the program from inside the machine: http://127.0.0.1:PORT/PATH (or localhost, or [::1]).');
  }
  return `http://${url.host}${url.pathname}${url.search}`;
}

export function planHealth(options: BuildOptions): HealthPlan | undefined {
  const { health, healthCmd } = options;
  const tuned = [options.healthIntervalSeconds, options.healthTimeoutSeconds, options.healthStartPeriodSeconds, options.healthRetries].some((value) => value !== undefined);
  if (health === undefined && healthCmd === undefined) {
    if (tuned) throw badInput('health', 'settings are given without a check', 'Add --health http://127.0.0.1:PORT/PATH or --health-cmd "<command>".');
    return undefined;
  }
  if (health !== undefined && healthCmd !== undefined) throw badInput('healthCmd', 'and health are both given', 'Check with one of them.');
  const command = healthCmd?.trim().split(/\s+/).filter(Boolean);
  if (command !== undefined && (command.length === 0 || !command[0]?.startsWith('/'))) throw badInput('healthCmd', `must start with an absolute path in the machine, not "${healthCmd}"`, 'e.g. --health-cmd "/app -check" (there is no shell).');
  return {
    ...(health !== undefined ? { url: healthUrl(health) } : {}),
    ...(command !== undefined ? { command } : {}),
    intervalSeconds: wholeNumber('healthIntervalSeconds', options.healthIntervalSeconds ?? 10, 1, '10'),
    timeoutSeconds: wholeNumber('healthTimeoutSeconds', options.healthTimeoutSeconds ?? 5, 1, '5'),
    startPeriodSeconds: wholeNumber('healthStartPeriodSeconds', options.healthStartPeriodSeconds ?? 10, 1, '10'),
    retries: wholeNumber('healthRetries', options.healthRetries ?? 3, 1, '3'),
  };
}

/** The watchdog the supervising init feeds: the kernel resets the machine when it is not fed for `seconds`. */
export interface WatchdogPlan {
  readonly seconds: number;
}

/** The watchdog's timeout when none is given (`--watchdog` alone). */
export const DEFAULT_WATCHDOG_SECONDS = 30;

/** The longest timeout every watchdog driver gopid1 builds in takes (the i6300esb's, 2046 s). */
export const MAX_WATCHDOG_SECONDS = 2046;

export function planWatchdog(options: BuildOptions): WatchdogPlan | undefined {
  if (options.watchdogSeconds === undefined) return undefined;
  const seconds = wholeNumber('watchdogSeconds', options.watchdogSeconds, 2, '30');
  if (seconds > MAX_WATCHDOG_SECONDS) throw badInput('watchdogSeconds', `must be at most ${MAX_WATCHDOG_SECONDS} (what the i6300esb takes), not ${seconds}`, 'e.g. 30');
  return { seconds };
}

/** The kernel's panic= for a machine that reboots `seconds` after a panic (0: at once, panic=-1). */
export function panicParameter(options: BuildOptions): string | undefined {
  if (options.panicRebootSeconds === undefined) return undefined;
  const seconds = wholeNumber('panicRebootSeconds', options.panicRebootSeconds, 0, '10');
  return `panic=${seconds === 0 ? -1 : seconds}`;
}

export function planRestart(options: BuildOptions): RestartPlan {
  const policy = oneOf('restart', options.restart, RESTART_POLICIES, 'no');
  const max = options.restartMax === undefined ? 0 : wholeNumber('restartMax', options.restartMax, 1, '5');
  if (max > 0 && policy === 'no') throw badInput('restartMax', 'limits restarts, and restart is no', 'Add --restart on-failure (or always).');
  return { policy, max };
}

/** The program's default environment, built into the initramfs (the boot's --env wins over it). */
export function planEnv(options: BuildOptions): readonly EnvEntry[] | undefined {
  if (options.env === undefined || options.env.length === 0) return undefined;
  return options.env.map((text) => parseEnvAssignment(text, 'env'));
}

/** Who the program runs as: a user id and a group id (the init stays root). */
export interface UserPlan {
  readonly uid: number;
  readonly gid: number;
}

export function planUser(options: BuildOptions): UserPlan | undefined {
  if (options.user === undefined) return undefined;
  const match = /^(\d+)(?::(\d+))?$/.exec(options.user.trim());
  const uid = Number(match?.[1]);
  const gid = Number(match?.[2] ?? match?.[1]);
  if (!match || uid > 0xfffffffe || gid > 0xfffffffe) {
    throw badInput('user', `${JSON.stringify(options.user)} is not UID or UID:GID`, 'e.g. --user 1000 or --user 1000:1000 (numbers: the machine has no user names).');
  }
  return { uid, gid };
}

/** The data disk: an empty ext4 filesystem of `bytes` made by the build, mounted on /data by the supervising init. */
export interface DataDiskPlan {
  readonly bytes: number;
}

const MIB = 1024 * 1024;
/** The filesystem the init writes to a blank disk before growing it: no data disk is smaller (dockerfiles/iso/data-step.sh). */
export const DATA_TEMPLATE_MIB = 128;
/** The largest data disk: EBS's largest volume of most types (16 TiB). */
const MAX_DATA_DISK_MIB = 16 * 1024 * 1024;

export function planDataDisk(options: BuildOptions): DataDiskPlan | undefined {
  const bytes = options.dataDiskBytes;
  if (bytes === undefined) return undefined;
  if (!Number.isInteger(bytes) || bytes <= 0) throw badInput('dataDiskBytes', `must be a positive number of bytes, not ${bytes}`, 'e.g. 1g');
  const mib = Math.ceil(bytes / MIB);
  if (mib < DATA_TEMPLATE_MIB || mib > MAX_DATA_DISK_MIB) {
    throw badInput('dataDiskBytes', `must be from ${DATA_TEMPLATE_MIB} MiB to 16 TiB, not ${mib} MiB`, `e.g. 1g (the init formats a blank disk of at least ${DATA_TEMPLATE_MIB} MiB).`);
  }
  return { bytes: mib * MIB };
}
