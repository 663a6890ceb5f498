import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { slowGoApp } from '../helpers/apps.js';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, leftoversOf, tempDir } from '../helpers/e2e.js';
import type { Manifest } from '../../src/index.js';

const skip = e2ePrerequisites();
const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in:\n${text}`);
const ENGINE_SOCKET = '/var/run/docker.sock';
/** How long gopid1 may take to fail once the engine is gone. */
const FAIL_WITHIN_MS = 10_000;

/**
 * A Unix socket that passes every connection through to the real engine: what gopid1 sees as "the engine",
 * until `cut()` closes the socket and every connection through it, as a stopped or crashed daemon would.
 */
async function engineProxy(socket: string): Promise<{ cut: () => void }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engine = net.connect(ENGINE_SOCKET);
    open.add(client).add(engine);
    for (const [from, to] of [[client, engine], [engine, client]] as const) {
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        open.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
  return {
    cut: () => {
      server.close();
      for (const connection of open) connection.destroy();
    },
  };
}

describe('the Docker engine going away mid-build', { skip }, () => {
  it('fails within seconds saying so; the next run succeeds from the kernel cache; `gopid1 clean` sweeps what the lost run left', { timeout: BUILD_TIMEOUT_MS }, async (t) => {
    const app = slowGoApp('lost-app');
    t.after(() => rmSync(app, { recursive: true, force: true }));
    const out = tempDir('lost');
    const socket = path.join(tempDir('lost-proxy'), 'docker.sock');
    const proxy = await engineProxy(socket);
    let seen = '';
    let before = '';
    let scheduled = false;
    let cutAt = 0;
    let lostPid = 0;
    const lost = await runCli(['build', app, '--out', out], {
      env: { DOCKER_HOST: `unix://${socket}` },
      onOutput: (text, child) => {
        seen += text;
        lostPid = child.pid ?? 0;
        if (scheduled || !/go: compiling example\.com\/slow/.test(seen)) return;
        scheduled = true;
        // Three seconds into a compile that takes 10+ s: gopid1 is waiting on the builder container.
        setTimeout(() => {
          before = seen;
          cutAt = Date.now();
          proxy.cut();
        }, 3000);
      },
    });
    const failedAfterMs = Date.now() - cutAt;
    assert.ok(cutAt > 0, `the engine was never cut off: the Go step never started:\n${lost.stderr}`);
    assert.doesNotMatch(before, /go: init built/, 'the Go step had finished before the engine went away');

    t.diagnostic(`failed ${failedAfterMs} ms after the engine went away, exit ${lost.code}: ${lost.stderr.slice(lost.stderr.indexOf('gopid1: error'))}`);
    assert.equal(lost.code, 1, lost.stderr);
    assert.ok(failedAfterMs < FAIL_WITHIN_MS, `failed ${failedAfterMs} ms after the engine went away`);
    assert.match(lost.stderr, new RegExp(`gopid1: error: lost the connection to the Docker engine at unix://${socket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} during go: build \\(.+\\) \\[ENGINE_LOST\\]`));
    assert.match(lost.stderr, /→ The engine stopped, restarted or crashed mid-run\. Check that it answers \(`docker info`; `sudo systemctl restart docker` if not\) and run the command again/);
    assert.doesNotMatch(lost.stderr, /internal error|this is a bug/);
    noStack(lost.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['logs'], 'no artifact and no staging directory left');
    // gopid1 could not remove its builder container with the engine gone: it is still there, its owner dead.
    const orphans = leftoversOf([lostPid]).containers;
    assert.equal(orphans.length, 1, `the lost run's container: ${orphans.join('; ')}`);

    // The engine is back (the real socket): the same command again works, with the kernel from the cache.
    let againPid = 0;
    const again = await runCli(['build', app, '--out', out], { onOutput: (_text, child) => (againPid = child.pid ?? 0) });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /kernel: kernel \S+ from the cache/);
    assert.equal((JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest).kernel.fromCache, true);

    // `gopid1 clean` sweeps the lost run's container: its gopid1 process is gone.
    const clean = await runCli(['clean']);
    assert.equal(clean.code, 0, clean.stderr);
    const removed = Number(/removed (\d+) container\(s\)/.exec(clean.stdout)?.[1] ?? 0);
    assert.ok(removed >= 1, clean.stdout);
    assert.deepEqual(leftoversOf([lostPid, againPid]), { containers: [], volumes: [], images: [] });
  });
});
