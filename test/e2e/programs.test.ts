import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { boot, build, Gopid1Error } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, fixtures, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

describe('Go programs of many kinds as PID 1', { skip }, () => {
  it('a vendored module builds with no network and boots (Node API)', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('vendored');
    const result = await build({ app: path.join(fixtures, 'vendored'), out });
    assert.equal(result.manifest.go.network, 'none');
    assert.equal(result.manifest.go.module, 'example.com/vendored');
    const booted = await boot({ dir: out, expect: /greetings from the vendored module/, timeoutSeconds: 120 });
    assert.equal(booted.outcome, 'expected');
    assert.ok(booted.firstLineMs !== undefined && booted.expectMs !== undefined && booted.firstLineMs <= booted.expectMs);
  });

  it('an edit that keeps every file\'s name and size is built as edited (Go\'s module index never serves the old imports)', { timeout: BUILD_TIMEOUT_MS }, async () => {
    // gopid1 copies sources with fixed times, so Go's module index (keyed by names, sizes and times) would see
    // two versions of the same size as one. Two versions of main.go, the same length, with different imports:
    const versions = [
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("edit one: fmt, ok") }\n',
      'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("two:os\\n") }\n',
    ];
    assert.equal(versions[0]!.length, versions[1]!.length);
    const app = tempDir('same-size');
    writeFileSync(path.join(app, 'go.mod'), 'module example.com/samesize\n\ngo 1.21\n');
    const outputs: string[] = [];
    for (const [index, text] of versions.entries()) {
      writeFileSync(path.join(app, 'main.go'), text);
      const out = tempDir(`same-size-${index}`);
      const built = await runCli(['build', app, '--out', out]);
      assert.equal(built.code, 0, built.stderr);
      const run = await runCli(['boot', out, '--expect', index === 0 ? 'edit one: fmt, ok' : 'two:os', '--timeout', '60']);
      assert.equal(run.code, 0, run.stderr);
      outputs.push(run.stdout);
    }
    assert.match(outputs[1]!, /^two:os$/m);
  });

  it('a program that exits 3 makes `gopid1 boot` exit 3 and say so', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('exit3');
    assert.equal((await runCli(['build', path.join(fixtures, 'exit3'), '--out', out])).code, 0);
    const run = await runCli(['boot', out, '--timeout', '120']);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /exit3: leaving with status 3/);
    assert.match(run.stderr, /the program exited with status 3/);
  });

  it('a program that exits before --expect is met fails with its status and the last lines', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('exit3-expect');
    await build({ app: path.join(fixtures, 'exit3'), out });
    const run = await runCli(['boot', out, '--expect', 'never printed', '--timeout', '120']);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /the program exited with status 3 before \/never printed\/ appeared on the console \[BOOT_FAILED\]/);
    assert.match(run.stderr, /\| exit3: leaving with status 3/);
  });

  it('a Go panic is reported as exit status 2 with the panic message on the console', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('panics');
    await build({ app: path.join(fixtures, 'panics'), out });
    const result = await boot({ dir: out, timeoutSeconds: 120 });
    assert.equal(result.outcome, 'exited');
    assert.equal(result.exitStatus, 2);
  });

  it('a program that starts processes with os/exec works as PID 1', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('spawner');
    await build({ app: path.join(fixtures, 'spawner'), out });
    const lines: string[] = [];
    const result = await boot({ dir: out, expect: /got: child pid \d+ running/, expectCount: 2, timeoutSeconds: 120, onConsole: (line) => lines.push(line) });
    assert.equal(result.outcome, 'expected');
    assert.ok(lines.some((line) => /^spawner pid 1 got: child pid \d+ running$/.test(line)), lines.join('\n'));
  });

  it('cgo is refused with a hint by default, and builds fully static with --cgo', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('cgo');
    const refused = await runCli(['build', path.join(fixtures, 'cgo'), '--out', out]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[GO_COMPILE_FAILED\]/);
    assert.match(refused.stderr, /pass --cgo/);
    const built = await runCli(['build', path.join(fixtures, 'cgo'), '--out', out, '--cgo']);
    assert.equal(built.code, 0, built.stderr);
    const run = await runCli(['boot', out, '--expect', 'cgo says 2\\+3=5', '--timeout', '120']);
    assert.equal(run.code, 0, run.stderr);
  });

  it('a compile error shows the compiler\'s own lines, no stack trace, and leaves no artifacts', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('broken');
    const run = await runCli(['build', path.join(fixtures, 'broken'), '--out', out]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the Go program does not build .*\[GO_COMPILE_FAILED\]/);
    assert.match(run.stderr, /\| \.\/main\.go:7:\d+: undefined: undefinedThing/);
    assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+/);
    assert.deepEqual(readdirSync(out).sort(), ['logs'], 'only the logs are left in the out dir');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('a 24 MiB embedded asset boots with the default memory size and arrives intact', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const app = tempDir('bigasset-app');
    const asset = randomBytes(24 * 1024 * 1024);
    writeFileSync(path.join(app, 'asset.bin'), asset);
    writeFileSync(path.join(app, 'go.mod'), 'module example.com/bigasset\n\ngo 1.21\n');
    writeFileSync(
      path.join(app, 'main.go'),
      [
        'package main',
        '',
        'import (',
        '\t"crypto/sha256"',
        '\t_ "embed"',
        '\t"fmt"',
        '\t"time"',
        ')',
        '',
        '//go:embed asset.bin',
        'var asset []byte',
        '',
        'func main() {',
        '\tfor {',
        '\t\tfmt.Printf("asset %d bytes sha256 %x\\n", len(asset), sha256.Sum256(asset))',
        '\t\ttime.Sleep(time.Second)',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    const out = tempDir('bigasset');
    const result = await build({ app, out });
    assert.ok(result.manifest.artifacts.initramfs.unpackedBytes > 24 * 1024 * 1024);
    const digest = createHash('sha256').update(asset).digest('hex');
    const booted = await boot({ dir: out, expect: new RegExp(`asset ${asset.length} bytes sha256 ${digest}`), timeoutSeconds: 180 });
    assert.equal(booted.outcome, 'expected');
    assert.ok(booted.memoryMiB >= 128, `default memory ${booted.memoryMiB} MiB`);
  });

  it('errors from the API are Gopid1Errors with a code', { timeout: BUILD_TIMEOUT_MS }, async () => {
    await assert.rejects(build({ app: path.join(fixtures, 'broken'), out: tempDir('broken-api') }), (error: unknown) => {
      return error instanceof Gopid1Error && error.code === 'GO_COMPILE_FAILED' && error.logTail.some((line) => line.includes('undefinedThing'));
    });
  });
});
