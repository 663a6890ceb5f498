import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { METADATA_ITEM, userDataText, type FwCfgItem, type RuntimeConfig } from './run-config.js';

/**
 * An emulated cloud metadata service, for `gopid1 boot --metadata-server`: the machine reads its user-data from
 * 169.254.169.254 as it would on its cloud. QEMU's user network takes the guest's network to 169.254.169.0/24 and
 * runs metadata-responder.js for each connection to 169.254.169.254:80, which answers as EC2's IMDSv2 does (a
 * session token from PUT /latest/api/token, then GET /latest/user-data with it) or Compute Engine's metadata server
 * (GET /computeMetadata/v1/instance/attributes/user-data with Metadata-Flavor: Google); anything else is 404.
 */
export type MetadataCloud = 'aws' | 'gcp';

export interface MetadataAnswer {
  status: number;
  reason: string;
  body?: string;
}

/** The session token the emulated IMDSv2 hands out for a user-data file: any connection can check it. */
export function sessionToken(userDataFile: string): string {
  return createHash('sha256').update(`gopid1 ${userDataFile}`).digest('hex');
}

/** The answer to one request head ("METHOD PATH HTTP/x", then header lines). */
export function respond(head: string, cloud: MetadataCloud, userData: () => string, token: string): MetadataAnswer {
  const [requestLine = '', ...headerLines] = head.split('\r\n');
  const [method, target] = requestLine.split(' ');
  const headers = new Map(headerLines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  if (cloud === 'aws' && method === 'PUT' && target === '/latest/api/token') {
    return headers.has('x-aws-ec2-metadata-token-ttl-seconds') ? { status: 200, reason: 'OK', body: token } : { status: 400, reason: 'Bad Request' };
  }
  if (cloud === 'aws' && method === 'GET' && target === '/latest/user-data') {
    return headers.get('x-aws-ec2-metadata-token') === token ? { status: 200, reason: 'OK', body: userData() } : { status: 401, reason: 'Unauthorized' };
  }
  if (cloud === 'gcp' && method === 'GET' && target === '/computeMetadata/v1/instance/attributes/user-data') {
    return headers.get('metadata-flavor') === 'Google' ? { status: 200, reason: 'OK', body: userData() } : { status: 403, reason: 'Forbidden' };
  }
  return { status: 404, reason: 'Not Found' };
}

export function httpAnswer({ status, reason, body = '' }: MetadataAnswer): string {
  return `HTTP/1.0 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** The guest network the emulation needs: 169.254.169.0/24, the service at .254 answered by the responder. */
export const METADATA_NETWORK = '169.254.169.0/24';

/** QEMU's -netdev user options for the emulation (commas are QEMU's separators: none may be in the paths). */
export function metadataNetdevOptions(cloud: MetadataCloud, userDataFile: string): string {
  const responder = fileURLToPath(new URL('./metadata-responder.js', import.meta.url));
  const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, responder, cloud, userDataFile].map(quote).join(' ');
  return `,net=${METADATA_NETWORK},guestfwd=tcp:169.254.169.254:80-cmd:${command.replace(/,/g, ',,')}`;
}

/**
 * Sets up the emulation in `dir`: the user-data (the boot's run-time configuration) the responder serves, and the
 * fw_cfg item that tells the init to ask for it. Returns the fw_cfg items and the -netdev user options.
 */
export async function metadataService(cloud: MetadataCloud, config: RuntimeConfig | undefined, dir: string): Promise<{ fwCfg: FwCfgItem[]; netdev: string }> {
  const userData = path.join(dir, 'user-data');
  await writeFile(userData, await userDataText(config ?? { env: [], secrets: [] }), { mode: 0o600 });
  const marker = path.join(dir, 'metadata');
  await writeFile(marker, cloud);
  return { fwCfg: [{ name: METADATA_ITEM, file: marker }], netdev: metadataNetdevOptions(cloud, userData) };
}
