import { readFile, writeFile } from 'node:fs/promises';
import type { BuildPlan } from '../plan/plan.js';
import { gzip9 } from './compress.js';
import { writeNewc, type CpioEntry } from './newc.js';

export interface RootfsContents {
  /** /init: the program itself, or the supervising init. */
  init: Buffer;
  /** /app: the program, started by the supervising init. */
  app?: Buffer;
  /** The kernel configures the network: /etc/resolv.conf points at the DNS servers it learnt (/proc/net/pnp), /etc/hosts names localhost. */
  net?: boolean;
  /** The machine's host name (--hostname), in /etc/hosts. */
  hostname?: string;
  /** /etc/gopid1/init.conf: the supervising init's settings ("key=value" lines). */
  initConfig?: string;
  /** /etc/gopid1/env: the program's default environment ("KEY=VALUE\0" each), for the supervising init. */
  env?: Buffer;
  /** /etc/gopid1/data.sparse: the filesystem the supervising init writes to a blank data disk (data/sparse.ts's form). */
  dataTemplate?: Buffer;
}

/** The supervising init's settings as /etc/gopid1/init.conf holds them. */
export function initConfigText(runtime: Pick<BuildPlan['runtime'], 'restart' | 'health' | 'watchdog' | 'user' | 'dataDisk' | 'ipv6' | 'metadata'>): string {
  const { restart, health, watchdog, user, dataDisk, ipv6, metadata } = runtime;
  const lines = [`restart=${restart.policy}`, `restart-max=${restart.max}`];
  if (health) {
    lines.push(health.url !== undefined ? `health-url=${health.url}` : `health-cmd=${(health.command ?? []).join(' ')}`);
    lines.push(`health-interval=${health.intervalSeconds}`, `health-timeout=${health.timeoutSeconds}`, `health-start-period=${health.startPeriodSeconds}`, `health-retries=${health.retries}`);
  }
  if (watchdog) lines.push(`watchdog=${watchdog.seconds}`);
  if (user) lines.push(`user=${user.uid}:${user.gid}`);
  if (dataDisk) lines.push('data=/data');
  if (metadata) lines.push(`metadata=${metadata}`);
  if (ipv6) lines.push(`ip6=${ipv6.address}/${ipv6.prefix}`, ...(ipv6.gateway !== undefined ? [`gateway6=${ipv6.gateway}`] : []));
  return `${lines.join('\n')}\n`;
}

/** /etc/hosts of a machine with networking: localhost on both loopbacks, and its host name, as Debian writes them. */
export function hostsText(hostname?: string): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...(hostname !== undefined ? [`127.0.1.1\t${hostname}`] : []), ''].join('\n');
}

/**
 * The root filesystem of a gopid1 machine: /init (and /app under the supervising init), the two device nodes a
 * PID 1 needs before anything mounts devtmpfs (/dev/console for its stdio, /dev/null for os/exec), and empty
 * mount points.
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
    ...(contents.net ? [{ type: 'file' as const, name: 'etc/hosts', mode: 0o644, data: Buffer.from(hostsText(contents.hostname)) }] : []),
    ...(contents.net ? [{ type: 'symlink' as const, name: 'etc/resolv.conf', target: '../proc/net/pnp' }] : []),
    { type: 'file', name: 'init', mode: 0o755, data: contents.init },
    { type: 'dir', name: 'proc', mode: 0o555 },
    { type: 'dir', name: 'run', mode: 0o755 },
    { type: 'dir', name: 'sys', mode: 0o555 },
    { type: 'dir', name: 'tmp', mode: 0o1777 },
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
  files: { init: string; app?: string; net?: boolean; hostname?: string; initConfig?: string; env?: Buffer; dataTemplate?: Buffer },
  outPath: string,
  mtime: number,
  compress: (cpio: Buffer) => Promise<Buffer> = async (cpio) => gzip9(cpio),
): Promise<InitramfsResult> {
  const contents: RootfsContents = {
    init: await readFile(files.init),
    ...(files.app ? { app: await readFile(files.app) } : {}),
    ...(files.net ? { net: true } : {}),
    ...(files.hostname !== undefined ? { hostname: files.hostname } : {}),
    ...(files.initConfig !== undefined ? { initConfig: files.initConfig } : {}),
    ...(files.env !== undefined ? { env: files.env } : {}),
    ...(files.dataTemplate !== undefined ? { dataTemplate: files.dataTemplate } : {}),
  };
  const cpio = writeNewc(rootfsEntries(contents), { mtime });
  const packed = await compress(cpio);
  await writeFile(outPath, packed, { mode: 0o644 });
  return { path: outPath, unpackedBytes: cpio.length, bytes: packed.length };
}
