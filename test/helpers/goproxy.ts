import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';

/**
 * A Go module proxy (the GOPROXY protocol: @v/list, .info, .mod, .zip) serving modules made up by a test, on the
 * Docker bridge's gateway address so that builder containers reach it. No module proxy is reachable from these
 * machines, so this is how the module download path is exercised end to end.
 */
export interface FakeModule {
  path: string;
  version: string;
  /** Files of the module, relative to its root; go.mod included. */
  files: Record<string, string>;
}

export interface GoProxy {
  url: string;
  /** Request paths served, in order. */
  requests: string[];
  /** go.sum lines for the modules, as `go mod tidy` would write them. */
  goSum: string;
  close: () => Promise<void>;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip with every entry stored (no compression): enough for Go's module zips. */
export function storedZip(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    locals.push(local, nameBytes, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0x00210000, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Go's dirhash.Hash1: sha256 over "<sha256 hex>  <name>\n" lines of the files sorted by name. */
export function hash1(files: { name: string; data: Buffer }[]): string {
  const summary = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((file) => `${createHash('sha256').update(file.data).digest('hex')}  ${file.name}\n`)
    .join('');
  return `h1:${createHash('sha256').update(summary).digest('base64')}`;
}

/** What `docker network inspect bridge` says about the default bridge, as far as the gateway is concerned. */
export interface BridgeInspect {
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null } | null;
  Options?: Record<string, string> | null;
}

/**
 * The default bridge's gateway: where containers on it reach this host. IPAM's Gateway when the engine records one;
 * a freshly started docker.io 20.10 daemon leaves it empty (`"Config":[{"Subnet":"172.17.0.0/16"}]`) while the
 * bridge interface (docker0) holds the address, so then the IPv4 address of the bridge's own interface on this host,
 * inside the network's subnet. `addressesOf` lists an interface's IPv4 addresses whether or not it has a carrier.
 */
export function gatewayOf(inspect: BridgeInspect, addressesOf: (name: string) => string[]): string {
  const configs = inspect.IPAM?.Config ?? [];
  const recorded = configs.map((config) => config.Gateway ?? '').find((gateway) => isIPv4(gateway));
  if (recorded) return recorded;
  const name = inspect.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const subnets = configs.map((config) => config.Subnet ?? '').filter((subnet) => subnet.includes('.'));
  const addresses = addressesOf(name);
  const inSubnet = addresses.find((address) => subnets.length === 0 || subnets.some((subnet) => inIPv4Subnet(address, subnet)));
  if (inSubnet) return inSubnet;
  throw new Error(
    `the default Docker bridge records no gateway and this host has no IPv4 address on its interface ${name} (subnets ${subnets.join(', ') || 'none'}): ` +
      'the module-download tests need a local engine whose bridge this host is on',
  );
}

function inIPv4Subnet(address: string, cidr: string): boolean {
  const [network = '', bits = '32'] = cidr.split('/');
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  const toInt = (ip: string) => ip.split('.').reduce((value, octet) => ((value << 8) | Number(octet)) >>> 0, 0);
  return (toInt(address) & mask) >>> 0 === (toInt(network) & mask) >>> 0;
}

/**
 * An interface's IPv4 addresses, read with iproute2: Node's os.networkInterfaces() leaves out an interface without a
 * carrier, and docker0 has none until a container is attached.
 */
export function ipv4AddressesOf(name: string): string[] {
  let listing: { addr_info?: { family?: string; local?: string }[] }[];
  try {
    listing = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
  } catch {
    return []; // no such interface (or no iproute2): the caller says what is missing
  }
  return listing.flatMap((link) => link.addr_info ?? []).filter((info) => info.family === 'inet' && info.local).map((info) => info.local!);
}

/** The address of the default bridge's gateway on the engine this host runs. */
export function bridgeGateway(): string {
  const [inspect] = JSON.parse(execFileSync('docker', ['network', 'inspect', 'bridge']).toString()) as BridgeInspect[];
  return gatewayOf(inspect ?? {}, ipv4AddressesOf);
}

export async function startGoProxy(modules: FakeModule[]): Promise<GoProxy> {
  const routes = new Map<string, Buffer>();
  const sums: string[] = [];
  for (const module of modules) {
    const base = `/${module.path}/@v`;
    const zipEntries = Object.entries(module.files).map(([name, text]) => ({ name: `${module.path}@${module.version}/${name}`, data: Buffer.from(text) }));
    const goMod = Buffer.from(module.files['go.mod'] ?? `module ${module.path}\n`);
    routes.set(`${base}/list`, Buffer.from(`${module.version}\n`));
    routes.set(`${base}/${module.version}.info`, Buffer.from(JSON.stringify({ Version: module.version, Time: '2024-01-01T00:00:00Z' })));
    routes.set(`${base}/${module.version}.mod`, goMod);
    routes.set(`${base}/${module.version}.zip`, storedZip(zipEntries));
    sums.push(`${module.path} ${module.version} ${hash1(zipEntries)}`, `${module.path} ${module.version}/go.mod ${hash1([{ name: 'go.mod', data: goMod }])}`);
  }
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    const url = decodeURIComponent((request.url ?? '/').split('?')[0]!);
    requests.push(url);
    const body = routes.get(url);
    if (!body) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-length': body.length }).end(body);
  });
  const host = bridgeGateway();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    goSum: `${sums.sort().join('\n')}\n`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
