import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCleartextMessage, generateKey, readPrivateKey, sign } from 'openpgp';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

/**
 * kernel.org itself is not reachable from every machine, so these tests serve a mirror with kernel.org's
 * layout (v6.x/linux-<version>.tar.xz + v6.x/sha256sums.asc) on loopback, through GOPID1_KERNEL_ORG_MIRROR. Its
 * sha256sums.asc is clearsigned with a key the test makes, which GOPID1_KERNEL_ORG_KEYS tells gopid1 to trust in
 * place of the Kernel.org checksum autosigner's.
 */
describe('kernel.org sources: download, sha256 check, delivery to the builder', { skip }, () => {
  let server: Server;
  let mirror: string;
  let env: Record<string, string>;
  const root = tempDir('mirror');
  const version = '6.99.1';
  const name = `linux-${version}.tar.xz`;

  before(async () => {
    // A tarball that is not a kernel tree: it must reach the builder and be refused there.
    const tree = path.join(root, 'tree', `linux-${version}`);
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'README'), 'not a kernel\n');
    mkdirSync(path.join(root, 'v6.x'));
    execFileSync('tar', ['-cJf', path.join(root, 'v6.x', name), '-C', path.join(root, 'tree'), `linux-${version}`]);
    const sha = createHash('sha256').update(readFileSync(path.join(root, 'v6.x', name))).digest('hex');
    const { privateKey, publicKey } = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'loopback mirror' }], format: 'armored' });
    const signingKey = await readPrivateKey({ armoredKey: privateKey });
    const sums = `${sha}  ${name}\n${'0'.repeat(64)}  linux-6.99.2.tar.xz\n`;
    writeFileSync(path.join(root, 'v6.x', 'sha256sums.asc'), await sign({ message: await createCleartextMessage({ text: sums }), signingKeys: signingKey }));
    // v7.x: the same list, changed after it was signed (a tarball swapped along with its checksum).
    mkdirSync(path.join(root, 'v7.x'));
    const tampered = (await sign({ message: await createCleartextMessage({ text: `${'1'.repeat(64)}  linux-7.99.1.tar.xz\n` }), signingKeys: signingKey })).replace('1'.repeat(64), '2'.repeat(64));
    writeFileSync(path.join(root, 'v7.x', 'sha256sums.asc'), tampered);
    writeFileSync(path.join(root, 'mirror-key.asc'), publicKey);
    server = createServer((request, response) => {
      const file = path.join(root, decodeURIComponent(request.url ?? '/'));
      if (!file.startsWith(root) || !existsSync(file)) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env = { GOPID1_KERNEL_ORG_MIRROR: mirror, GOPID1_KERNEL_ORG_KEYS: path.join(root, 'mirror-key.asc') };
  });

  after(() => server.close());

  it('refuses a tarball whose sha256 does not match and deletes it', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const cache = tempDir('kcache');
    const run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', `kernel.org:${version}`, '--kernel-sha256', 'a'.repeat(64)], {
      env: { ...env, GOPID1_CACHE_DIR: cache },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`sha256 mismatch for ${name.replace(/\./g, '\\.')}: expected a{64}, got [0-9a-f]{64} \\[KERNEL_SOURCE\\]`));
    assert.equal(existsSync(path.join(cache, 'downloads', name)), false);
  });

  it('checks against sha256sums.asc, delivers the tarball to the kernel builder, which refuses a tree that is not Linux', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const cache = tempDir('kcache');
    const run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', `kernel.org:${version}`], {
      env: { ...env, GOPID1_CACHE_DIR: cache },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /kernel: configure failed with exit code 3 \[STEP_FAILED\]/);
    assert.match(run.stderr, /\| gopid1: unpacking source\.tar\.xz/);
    assert.match(run.stderr, /\| gopid1: the tarball does not hold a Linux source tree/);
    assert.ok(existsSync(path.join(cache, 'downloads', name)), 'the verified download is kept for the next build');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('says where it looked when the version does not exist', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', 'kernel.org:6.99.3'], {
      env: { ...env, GOPID1_CACHE_DIR: tempDir('kcache') },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /sha256sums\.asc does not list linux-6\.99\.3\.tar\.xz/);
  });

  it('refuses a checksum list changed after signing, or signed by a key it does not trust, before downloading the tarball', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const cache = tempDir('kcache');
    let run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', 'kernel.org:7.99.1'], { env: { ...env, GOPID1_CACHE_DIR: cache } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /kernel\.org's checksum list http:\/\/127\.0\.0\.1:\d+\/v7\.x\/sha256sums\.asc has no valid signature by loopback mirror .*\[KERNEL_SOURCE\]/);
    run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', `kernel.org:${version}`], { env: { GOPID1_KERNEL_ORG_MIRROR: mirror, GOPID1_CACHE_DIR: cache } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /has no valid signature by Kernel\.org checksum autosigner <autosigner@kernel\.org> \(signed by key [0-9A-F]{16}\).*\[KERNEL_SOURCE\]/, 'the shipped key does not trust the test\'s mirror');
    assert.equal(existsSync(path.join(cache, 'downloads', name)), false, 'no tarball downloaded');
  });
});
