/**
 * Container parity's cost in `make bench`: examples/hello on the default machine (TCP/IP and UNIX sockets on loopback,
 * `#!` scripts in the kernel) beside `--profile small` (without them): sizes, and QEMU start → the first line.
 */
import path from 'node:path';
import { boot, build, PROFILES, type Manifest, type Profile } from '../src/index.js';
import { packageRoot } from '../src/paths.js';
import type { Cell } from './formats.js';

function sizeRow(profile: Profile, manifest: Manifest, firstLine: string): string {
  const { bzImage, initramfs } = manifest.artifacts;
  return `| \`${profile}\` | ${bzImage.bytes} | ${initramfs.bytes} | ${bzImage.bytes + initramfs.bytes} | ${firstLine} |`;
}

export async function benchProfiles(work: string, runs: number, cell: Cell, log: (text: string) => void): Promise<string[]> {
  const hello = path.join(packageRoot, 'examples', 'hello');
  const manifests: Manifest[] = [];
  for (const profile of PROFILES) {
    log(`profiles: build of hello, --profile ${profile}`);
    manifests.push((await build({ app: hello, out: path.join(work, `profile-${profile}`), profile })).manifest);
  }
  const firstLines: number[][] = PROFILES.map(() => []);
  // Interleaved, so a slow spell of the host touches both alike.
  for (let i = 0; i < runs; i++) {
    for (const [index, profile] of PROFILES.entries()) {
      log(`profiles: boot --profile ${profile} (${i + 1}/${runs})`);
      const result = await boot({ dir: path.join(work, `profile-${profile}`), expect: /Hello from Golang/, timeoutSeconds: 300 });
      firstLines[index]?.push(result.firstLineMs ?? result.durationMs);
    }
  }
  const [full, small] = manifests;
  const saved = full && small ? full.artifacts.bzImage.bytes + full.artifacts.initramfs.bytes - (small.artifacts.bzImage.bytes + small.artifacts.initramfs.bytes) : 0;
  return [
    '## Container parity (`--profile`)',
    '',
    'Written by `make bench` (or `BENCH_ONLY=profiles`, which updates this section alone). examples/hello (direct init)',
    'on the minimal kernel as it ships (`default`: TCP/IP with IPv4 and IPv6 and UNIX sockets, for loopback, and `#!`',
    'scripts, as a FROM-scratch container has them) and with `--profile small` (dockerfiles/kernel/fragments/small.config',
    'leaves them out); kernels from the cache.',
    '',
    `| profile | bzImage | initramfs | bzImage + initramfs | first line, s (median, min–max of ${runs}, interleaved) |`,
    '|---|---:|---:|---:|---:|',
    ...PROFILES.map((profile, index) => sizeRow(profile, manifests[index] as Manifest, cell(firstLines[index] ?? []))),
    '',
    `Container parity costs ${saved} bytes of the machine.`,
    '',
  ];
}
