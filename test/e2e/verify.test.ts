import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { e2ePrerequisites, hello, leftovers } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

describe('reproducible builds', { skip }, () => {
  it('`gopid1 verify --format iso-uefi,raw,uki`: two builds from nothing (no kernel cache, no Go cache) give identical bytes for every artifact', { timeout: 40 * 60_000 }, async () => {
    const run = await runCli(['--json', 'verify', hello, '--format', 'iso-uefi,raw,uki']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { identical: boolean; artifacts: { artifact: string; identical: boolean; expectedSha256: string; actualSha256: string }[] };
    assert.equal(result.identical, true);
    assert.deepEqual(result.artifacts.map((a) => a.artifact).sort(), ['bzImage', 'init', 'initramfs', 'iso', 'kernelConfig', 'raw', 'uki']);
    for (const artifact of result.artifacts) {
      assert.equal(artifact.identical, true, artifact.artifact);
      assert.equal(artifact.actualSha256, artifact.expectedSha256);
    }
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
