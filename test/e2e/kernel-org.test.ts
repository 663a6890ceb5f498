import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

/**
 * kernel.org itself is not reachable from every machine, so these tests serve a mirror with kernel.org's
 * layout (v6.x/linux-<version>.tar.xz + v6.x/sha256sums.asc) on loopback, through GOPID1_KERNEL_ORG_MIRROR.
 */
describe('kernel.org sources: download, sha256 check, delivery to the builder', { skip }, () => {
  let server: Server;
  let mirror: string;
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
    writeFileSync(path.join(root, 'v6.x', 'sha256sums.asc'), `-----BEGIN PGP SIGNED MESSAGE-----\n${sha}  ${name}\n${'0'.repeat(64)}  linux-6.99.2.tar.xz\n`);
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
  });

  after(() => server.close());

  it('refuses a tarball whose sha256 does not match and deletes it', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const cache = tempDir('kcache');
    const run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', `kernel.org:${version}`, '--kernel-sha256', 'a'.repeat(64)], {
      env: { GOPID1_KERNEL_ORG_MIRROR: mirror, GOPID1_CACHE_DIR: cache },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`sha256 mismatch for ${name.replace(/\./g, '\\.')}: expected a{64}, got [0-9a-f]{64} \\[KERNEL_SOURCE\\]`));
    assert.equal(existsSync(path.join(cache, 'downloads', name)), false);
  });

  it('checks against sha256sums.asc, delivers the tarball to the kernel builder, which refuses a tree that is not Linux', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const cache = tempDir('kcache');
    const run = await runCli(['build', hello, '--out', tempDir('korg-out'), '--kernel-source', `kernel.org:${version}`], {
      env: { GOPID1_KERNEL_ORG_MIRROR: mirror, GOPID1_CACHE_DIR: cache },
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
      env: { GOPID1_KERNEL_ORG_MIRROR: mirror, GOPID1_CACHE_DIR: tempDir('kcache') },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /sha256sums\.asc does not list linux-6\.99\.3\.tar\.xz/);
  });
});
