import { isIPv6 } from 'node:net';
import { badInput } from './check.js';
import type { BuildOptions } from './options.js';

/**
 * A static IPv4 configuration (`--ip ADDR/PREFIX`, `--gateway`, `--dns`, `--hostname`) as the kernel's own
 * ip= parameter takes it (Documentation/admin-guide/nfs/nfsroot.rst):
 * ip=<client>::<gateway>:<netmask>:<hostname>:eth0:off:<dns0>:<dns1>. The kernel writes the DNS servers into
 * /proc/net/pnp, where /etc/resolv.conf points, and sets the hostname.
 */
export interface StaticNetwork {
  readonly address: string;
  readonly prefix: number;
  readonly gateway?: string;
  readonly dns: readonly string[];
  readonly hostname?: string;
}

function ipv4(text: string, field: string, example: string): string {
  const octets = text.split('.');
  if (octets.length !== 4 || octets.some((octet) => !/^\d{1,3}$/.test(octet) || Number(octet) > 255)) {
    throw badInput(field, `${JSON.stringify(text)} is not an IPv4 address`, `e.g. ${example}`);
  }
  return octets.map(Number).join('.');
}

function netmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

/**
 * The machine's host name: --hostname, or its name made into one (lower case; letters, digits and - ; at most 63),
 * as a container's is its id. /etc/hostname holds it; the supervising init sets it (so does the kernel's ip=).
 */
export function machineHostname(name: string, asked: string | undefined): string {
  if (asked !== undefined) return asked;
  const made = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return made === '' ? 'gopid1' : made;
}

/** The static network the options ask for; undefined for DHCP. A hostname alone keeps DHCP and names the machine. */
export function planStaticNetwork(options: BuildOptions): StaticNetwork | undefined {
  const { ip, gateway, dns, hostname } = options;
  if (hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) {
    throw badInput('hostname', `${JSON.stringify(hostname)} is not a host name (letters, digits and -, at most 63)`, 'e.g. --hostname web1');
  }
  if (ip === undefined) {
    if (gateway !== undefined || (dns ?? []).length > 0) throw badInput(gateway !== undefined ? 'gateway' : 'dns', 'is for a static address, and ip is not given', 'Add --ip ADDR/PREFIX (e.g. --ip 10.0.2.15/24), or leave it to DHCP.');
    return hostname === undefined ? undefined : { address: '', prefix: 0, dns: [], hostname };
  }
  const [address = '', prefixText] = ip.split('/');
  const prefix = Number(prefixText);
  if (prefixText === undefined || !/^\d{1,2}$/.test(prefixText) || prefix > 32) throw badInput('ip', `${JSON.stringify(ip)} is not ADDR/PREFIX`, 'e.g. --ip 10.0.2.15/24');
  if ((dns ?? []).length > 2) throw badInput('dns', `takes at most two servers (the kernel's ip= has two), not ${(dns ?? []).length}`, 'e.g. --dns 1.1.1.1 --dns 8.8.8.8');
  return {
    address: ipv4(address, 'ip', '10.0.2.15/24'),
    prefix,
    ...(gateway !== undefined ? { gateway: ipv4(gateway, 'gateway', '10.0.2.2') } : {}),
    dns: (dns ?? []).map((server) => ipv4(server, 'dns', '10.0.2.3')),
    ...(hostname !== undefined ? { hostname } : {}),
  };
}

/** The kernel's ip= for a static network (or DHCP with a hostname). */
export function ipParameter(network: StaticNetwork): string {
  if (network.address === '') return `ip=::::${network.hostname ?? ''}:eth0:dhcp`;
  const fields = [network.address, '', network.gateway ?? '', netmask(network.prefix), network.hostname ?? '', 'eth0', 'off', ...network.dns];
  return `ip=${fields.join(':')}`;
}

/** A static IPv6 address (`--ip6 ADDR/PREFIX`, `--gateway6`), which the supervising init sets: the kernel's ip= has no IPv6. */
export interface StaticIpv6 {
  readonly address: string;
  readonly prefix: number;
  readonly gateway?: string;
}

function ipv6(text: string, field: string, example: string): string {
  if (!isIPv6(text) || text.includes('%')) throw badInput(field, `${JSON.stringify(text)} is not an IPv6 address`, `e.g. ${example}`);
  return text.toLowerCase();
}

/** The static IPv6 address the options ask for; undefined: SLAAC alone (router advertisements), as the kernel does. */
export function planStaticIpv6(options: BuildOptions): StaticIpv6 | undefined {
  const { ip6, gateway6 } = options;
  if (ip6 === undefined) {
    if (gateway6 !== undefined) throw badInput('gateway6', 'is for a static IPv6 address, and ip6 is not given', 'Add --ip6 ADDR/PREFIX (e.g. --ip6 fd00::15/64); with SLAAC the router advertises the gateway.');
    return undefined;
  }
  const slash = ip6.lastIndexOf('/');
  const prefixText = slash < 0 ? '' : ip6.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix < 1 || prefix > 128) throw badInput('ip6', `${JSON.stringify(ip6)} is not ADDR/PREFIX`, 'e.g. --ip6 fd00::15/64');
  return { address: ipv6(ip6.slice(0, slash), 'ip6', 'fd00::15/64'), prefix, ...(gateway6 !== undefined ? { gateway: ipv6(gateway6, 'gateway6', 'fd00::1') } : {}) };
}
