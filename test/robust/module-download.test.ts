import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, leftovers, tempDir } from '../helpers/e2e.js';
import { startGoProxy } from '../helpers/goproxy.js';
import type { Manifest } from '../../src/index.js';

const skip = e2ePrerequisites();

/** A module requiring `requirement`, its go.sum as given. */
function appRequiring(requirement: string, goSum: string): string {
  const dir = tempDir('module-app');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'go.mod'), `module example.com/usesgreet\n\ngo 1.21\n\nrequire ${requirement}\n`);
  writeFileSync(path.join(dir, 'go.sum'), goSum);
  const modulePath = requirement.split(' ')[0]!;
  writeFileSync(path.join(dir, 'main.go'), `package main\n\nimport (\n\t"fmt"\n\n\tgreet "${modulePath}"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n`);
  return dir;
}

describe('least privilege: only the module download has network, the compile has none', { skip }, () => {
  it('fetches a required module through GOPROXY in a step of its own, compiles offline, and the machine runs it', { timeout: BUILD_TIMEOUT_MS }, async (t) => {
    // A module path no earlier run has put in the Go cache volume, so the download really happens.
    const modulePath = `example.com/greet${randomBytes(4).toString('hex')}`;
    const proxy = await startGoProxy([
      {
        path: modulePath,
        version: 'v1.0.0',
        files: { 'go.mod': `module ${modulePath}\n\ngo 1.21\n`, 'greet.go': 'package greet\n\nfunc Hello() string { return "Hello from a downloaded module" }\n' },
      },
    ]);
    t.after(() => proxy.close());
    const app = appRequiring(`${modulePath} v1.0.0`, proxy.goSum);
    const out = tempDir('module-out');
    const run = await runCli(['build', app, '--out', out], { env: { GOPROXY: proxy.url, GOSUMDB: 'off' } });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(proxy.requests.includes(`/${modulePath}/@v/v1.0.0.zip`), `the proxy served the module: ${proxy.requests.join(', ')}`);

    // Two steps in go.log: the download sees a network interface besides loopback, the compile only loopback.
    const sandbox = readFileSync(path.join(out, 'logs', 'go.log'), 'utf8').match(/^gopid1: sandbox: .*$/gm) ?? [];
    assert.equal(sandbox.length, 2, sandbox.join('\n'));
    assert.match(sandbox[0]!, /^gopid1: sandbox: user builder \(uid 10001\), network interfaces: (?=.*\blo\b)(?=.*\b(eth|en)\w*).*, capabilities 0000000000000000, no_new_privs 1$/);
    assert.equal(sandbox[1], 'gopid1: sandbox: user builder (uid 10001), network interfaces: lo, capabilities 0000000000000000, no_new_privs 1');
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.go.network, 'none');
    assert.equal(manifest.go.downloadNetwork, 'bridge');
    // The download wrote the module cache volume, which the compile mounts read-only; the build cache is not its to write.
    const inCache = (volume: string, file: string): string =>
      execFileSync('docker', ['run', '--rm', '--network', 'none', '-v', `${volume}:/v:ro`, manifest.go.builder.id, 'sh', '-c', `ls /v/${file} 2>/dev/null || true`]).toString();
    assert.match(inCache('gopid1-go-modcache-10001', `${modulePath}@v1.0.0`), /greet\.go/);
    assert.equal(inCache('gopid1-go-cache-10001', `mod/${modulePath}@v1.0.0`), '');

    const booted = await runCli(['boot', out, '--expect', 'Hello from a downloaded module', '--timeout', '60']);
    assert.equal(booted.code, 0, booted.stderr);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('a module the proxy does not have fails the download step, saying what to do', { timeout: BUILD_TIMEOUT_MS }, async (t) => {
    const proxy = await startGoProxy([]);
    t.after(() => proxy.close());
    const modulePath = `example.com/absent${randomBytes(4).toString('hex')}`;
    const app = appRequiring(`${modulePath} v1.0.0`, '');
    const out = tempDir('module-missing');
    const run = await runCli(['build', app, '--out', out], { env: { GOPROXY: proxy.url, GOSUMDB: 'off' } });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /the modules example\.com\/usesgreet requires could not be downloaded \(go mod download exit code 1\) \[STEP_FAILED\]/);
    assert.match(run.stderr, /404|not found/i, 'the proxy\'s answer is in the log tail');
    assert.match(run.stderr, /→ Make the module proxy reachable from containers/);
    const sandbox = readFileSync(path.join(out, 'logs', 'go.log'), 'utf8').match(/^gopid1: sandbox: .*$/gm) ?? [];
    assert.equal(sandbox.length, 1, 'the compile never started');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
