/**
 * One connection to the emulated metadata service (qemu/metadata.ts): QEMU runs this with the connection on stdin and
 * stdout. Usage: metadata-responder.js aws|gcp USER-DATA-FILE.
 */
import { readFileSync } from 'node:fs';
import { httpAnswer, respond, sessionToken, type MetadataCloud } from './metadata.js';

const [cloud, userDataFile = ''] = process.argv.slice(2) as [MetadataCloud, string];
let received = '';
process.stdin.setEncoding('latin1');
process.stdin.on('data', (chunk: string) => {
  received += chunk;
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return;
  process.stdout.write(httpAnswer(respond(received.slice(0, end), cloud, () => readFileSync(userDataFile, 'utf8'), sessionToken(userDataFile))));
  process.stdin.destroy();
});
