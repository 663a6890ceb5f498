import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** The address of the default bridge's gateway: where containers on it reach this host. */
export function bridgeGateway(): string {
  return execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}']).toString().trim();
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
