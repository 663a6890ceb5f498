import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';
import type { CompareReport, Manifest } from '../../src/index.js';

const skip = e2ePrerequisites();
const KIB = 1024;

function comparisonImages(): string[] {
  return execFileSync('docker', ['images', '--filter', 'label=gopid1.compare', '--format', '{{.Repository}}:{{.Tag}}']).toString().split('\n').filter(Boolean);
}

describe('gopid1 compare: the VM against the same program as container images', { skip }, () => {
  it('measures examples/hello against four images with --runs 1 and writes compare.json, .md and .svg', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('compare');
    const run = await runCli(['--json', 'compare', hello, '--out', out, '--runs', '1']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareReport;
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;

    assert.equal(report.app, 'hello');
    assert.equal(report.runs, 1);
    assert.ok(report.accel === 'tcg' || report.accel === 'kvm');
    assert.equal(report.vm.kernelBytes, manifest.artifacts.bzImage.bytes);
    assert.equal(report.vm.initramfsBytes, manifest.artifacts.initramfs.bytes);
    assert.equal(report.vm.isoBytes, null, 'no ISO was asked for');
    assert.ok(report.vm.bootToFirstOutputMs > 0 && report.vm.bootToFirstOutputMs < 60_000, `VM boot ${report.vm.bootToFirstOutputMs} ms`);
    assert.ok(report.vm.hostRssBytes > 16 * KIB * KIB, `QEMU RSS ${report.vm.hostRssBytes}`);

    assert.deepEqual(report.containers.map((c) => c.variant), ['scratch', 'distroless', 'debian-slim', 'golang']);
    for (const c of report.containers) {
      assert.ok(c.imageBytes > 0 && c.savedBytes >= c.imageBytes && c.savedGzipBytes > 0 && c.savedGzipBytes < c.savedBytes, `${c.variant} sizes ${JSON.stringify(c)}`);
      assert.ok(c.startToFirstOutputMs > 0 && c.startToFirstOutputMs < 60_000, `${c.variant} start ${c.startToFirstOutputMs}`);
      assert.ok(c.memoryBytes > 0, `${c.variant} memory ${c.memoryBytes}`);
      assert.equal(c.startToFirstOutput.samples.length, 1);
    }
    const [scratch, distroless, slim, golang] = report.containers as [CompareReport['containers'][number], CompareReport['containers'][number], CompareReport['containers'][number], CompareReport['containers'][number]];
    // The scratch image is the binary the VM runs, and nothing else.
    assert.ok(Math.abs(scratch.imageBytes - manifest.artifacts.init.bytes) <= 8 * KIB, `scratch ${scratch.imageBytes} vs init ${manifest.artifacts.init.bytes}`);
    assert.ok(scratch.imageBytes < distroless.imageBytes && distroless.imageBytes < slim.imageBytes && slim.imageBytes < golang.imageBytes, 'sizes grow with what each image carries');

    const markdown = readFileSync(path.join(out, 'compare.md'), 'utf8');
    assert.match(markdown, /^# gopid1 compare: hello/);
    assert.match(markdown, /scratch/);
    assert.match(markdown, /!\[charts\]\(compare\.svg\)/);
    assert.doesNotMatch(markdown, /NaN|undefined|Infinity/);
    const svg = readFileSync(path.join(out, 'compare.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<rect [^>]*class="bar/g) ?? []).length, 3 * 5, 'three charts of five bars');

    assert.deepEqual(comparisonImages(), [], 'the images are removed without --keep');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
