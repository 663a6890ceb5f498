import { readFile, writeFile } from 'node:fs/promises';
import type { BuildPlan } from '../plan/plan.js';
import { gzip9 } from './compress.js';
import { writeNewc, type CpioEntry } from './newc.js';

export interface RootfsContents {
  /** /init: the program itself, or the supervising init. */
  init: Buffer;
  /** /app: the program, started by the supervising init. */
  app?: Buffer;
  /** The kernel configures the network: /etc/resolv.conf points at the DNS servers it learnt (/proc/net/pnp). */
  net?: boolean;
  /** The machine's host name: /etc/hostname, and in /etc/hosts. */
  hostname: string;
  /** Who the program runs as (--user), besides root and nobody in /etc/passwd and /etc/group. */
  user?: { uid: number; gid: number };
  /** /etc/gopid1/init.conf: the supervising init's settings ("key=value" lines). */
  initConfig?: string;
  /** /etc/gopid1/env: the program's default environment ("KEY=VALUE\0" each), for the supervising init. */
  env?: Buffer;
  /** /etc/gopid1/data.sparse: the filesystem the supervising init writes to a blank data disk (data/sparse.ts's form). */
  dataTemplate?: Buffer;
  /** More files and directories (`gopid1 test`: the package's directory, where its tests run). */
  extra?: CpioEntry[];
}

/** The supervising init's settings as /etc/gopid1/init.conf holds them. */
export function initConfigText(runtime: Pick<BuildPlan['runtime'], 'restart' | 'health' | 'watchdog' | 'user' | 'dataDisk' | 'ipv6' | 'metadata' | 'workdir'>): string {
  const { restart, health, watchdog, user, dataDisk, ipv6, metadata, workdir } = runtime;
  const lines = [`restart=${restart.policy}`, `restart-max=${restart.max}`];
  if (health) {
    lines.push(health.url !== undefined ? `health-url=${health.url}` : `health-cmd=${(health.command ?? []).join(' ')}`);
    lines.push(`health-interval=${health.intervalSeconds}`, `health-timeout=${health.timeoutSeconds}`, `health-start-period=${health.startPeriodSeconds}`, `health-retries=${health.retries}`);
  }
  if (watchdog) lines.push(`watchdog=${watchdog.seconds}`);
  if (user) lines.push(`user=${user.uid}:${user.gid}`);
  if (dataDisk) lines.push('data=/data');
  if (metadata) lines.push(`metadata=${metadata}`);
  if (workdir !== undefined) lines.push(`workdir=${workdir}`);
  if (ipv6) lines.push(`ip6=${ipv6.address}/${ipv6.prefix}`, ...(ipv6.gateway !== undefined ? [`gateway6=${ipv6.gateway}`] : []));
  return `${lines.join('\n')}\n`;
}

/** /etc/hosts: localhost on both loopbacks, and the machine's host name, as Debian writes them. */
export function hostsText(hostname: string): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `127.0.1.1\t${hostname}`, ''].join('\n');
}

const ROOT = 0;
const NOBODY = 65534;

/**
 * /etc/passwd and /etc/group as a container's base image has them, so that os/user finds who runs: root (home
 * /root), nobody, and the --user ids, when they are neither, as `app` (home /: it owns nothing else). The tty
 * group owns /dev/pts/*.
 */
export function accountsText(user?: { uid: number; gid: number }): { passwd: string; group: string } {
  const passwd = ['root:x:0:0:root:/root:/sbin/nologin', `nobody:x:${NOBODY}:${NOBODY}:nobody:/nonexistent:/sbin/nologin`];
  const group = ['root:x:0:', 'tty:x:5:', `nogroup:x:${NOBODY}:`];
  if (user && user.uid !== ROOT && user.uid !== NOBODY) passwd.push(`app:x:${user.uid}:${user.gid}:app:/:/sbin/nologin`);
  if (user && ![ROOT, 5, NOBODY].includes(user.gid)) group.push(`app:x:${user.gid}:`);
  return { passwd: `${passwd.join('\n')}\n`, group: `${group.join('\n')}\n` };
}

/** What every machine has in /etc, as a container does: its host name, hosts, users and groups. */
function etcEntries(contents: RootfsContents): CpioEntry[] {
  const { passwd, group } = accountsText(contents.user);
  const file = (name: string, text: string): CpioEntry => ({ type: 'file', name: `etc/${name}`, mode: 0o644, data: Buffer.from(text) });
  return [file('group', group), file('hostname', `${contents.hostname}\n`), file('hosts', hostsText(contents.hostname)), file('passwd', passwd)];
}

/**
 * The root filesystem of a gopid1 machine: /init (and /app under the supervising init), the two device nodes a
 * PID 1 needs before anything mounts devtmpfs (/dev/console for its stdio, /dev/null for os/exec), what a
 * container finds in /etc, root's home, and empty mount points.
 */
export function rootfsEntries(contents: RootfsContents): CpioEntry[] {
  return [
    ...(contents.app ? [{ type: 'file' as const, name: 'app', mode: 0o755, data: contents.app }] : []),
    { type: 'dir', name: 'dev', mode: 0o755 },
    { type: 'char', name: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'char', name: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    { type: 'dir', name: 'etc', mode: 0o755 },
    ...(contents.initConfig !== undefined || contents.env !== undefined || contents.dataTemplate !== undefined ? [{ type: 'dir' as const, name: 'etc/gopid1', mode: 0o755 }] : []),
    ...(contents.dataTemplate !== undefined ? [{ type: 'file' as const, name: 'etc/gopid1/data.sparse', mode: 0o600, data: contents.dataTemplate }] : []),
    // Readable by root only: the init reads it; defaults may still be nobody else's business.
    ...(contents.env !== undefined ? [{ type: 'file' as const, name: 'etc/gopid1/env', mode: 0o600, data: contents.env }] : []),
    ...(contents.initConfig !== undefined ? [{ type: 'file' as const, name: 'etc/gopid1/init.conf', mode: 0o644, data: Buffer.from(contents.initConfig) }] : []),
    ...etcEntries(contents),
    ...(contents.net ? [{ type: 'symlink' as const, name: 'etc/resolv.conf', target: '../proc/net/pnp' }] : []),
    { type: 'file', name: 'init', mode: 0o755, data: contents.init },
    { type: 'dir', name: 'proc', mode: 0o555 },
    { type: 'dir', name: 'root', mode: 0o700 },
    { type: 'dir', name: 'run', mode: 0o755 },
    { type: 'dir', name: 'sys', mode: 0o555 },
    { type: 'dir', name: 'tmp', mode: 0o1777 },
    ...(contents.extra ?? []),
  ];
}

export interface InitramfsResult {
  path: string;
  /** Size of the cpio before compression: what the kernel unpacks into RAM. */
  unpackedBytes: number;
  bytes: number;
}

/**
 * Writes the initramfs: newc, sorted, fixed metadata, then `compress` (default gzip -9 with no name and no
 * time; compress.ts has zstd and xz).
 */
export async function writeInitramfs(
  files: { init: string; app?: string; net?: boolean; hostname: string; user?: { uid: number; gid: number }; initConfig?: string; env?: Buffer; dataTemplate?: Buffer; extra?: CpioEntry[] },
  outPath: string,
  mtime: number,
  compress: (cpio: Buffer) => Promise<Buffer> = async (cpio) => gzip9(cpio),
): Promise<InitramfsResult> {
  const contents: RootfsContents = {
    init: await readFile(files.init),
    ...(files.app ? { app: await readFile(files.app) } : {}),
    ...(files.net ? { net: true } : {}),
    hostname: files.hostname,
    ...(files.user !== undefined ? { user: files.user } : {}),
    ...(files.initConfig !== undefined ? { initConfig: files.initConfig } : {}),
    ...(files.env !== undefined ? { env: files.env } : {}),
    ...(files.dataTemplate !== undefined ? { dataTemplate: files.dataTemplate } : {}),
    ...(files.extra !== undefined ? { extra: files.extra } : {}),
  };
  const cpio = writeNewc(rootfsEntries(contents), { mtime });
  const packed = await compress(cpio);
  await writeFile(outPath, packed, { mode: 0o644 });
  return { path: outPath, unpackedBytes: cpio.length, bytes: packed.length };
}
