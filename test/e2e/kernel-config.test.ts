import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

describe('kernel config fragments, checked after olddefconfig', { skip }, () => {
  it('fails before compiling when Kconfig drops an option, naming it and the missing dependency', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const dir = tempDir('fragment');
    const fragment = path.join(dir, 'net.config');
    // virtio-net needs networking, which the minimal kernel leaves out; the second option does not exist.
    writeFileSync(fragment, 'CONFIG_VIRTIO_NET=y\nCONFIG_GOPID1_NO_SUCH_OPTION=y\n');
    const out = path.join(dir, 'out');
    const run = await runCli(['build', hello, '--out', out, '--kernel-fragment', fragment]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /the kernel configuration dropped 2 options the fragments ask for \[KCONFIG_REJECTED\]/);
    assert.match(run.stderr, /\| CONFIG_VIRTIO_NET=y \(.*net\.config:1\) became unset: missing dependency: depends on .*\(not set here: .*CONFIG_(NET|NETDEVICES|VIRTIO)/);
    assert.match(run.stderr, /\| CONFIG_GOPID1_NO_SUCH_OPTION=y .* unknown option/);
    assert.doesNotMatch(run.stderr, /compiling Linux/, 'it stopped before compiling');
    assert.deepEqual(readdirSync(out).sort(), ['logs']);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
