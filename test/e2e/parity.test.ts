import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { counts, measureParity, regressions } from '../../bench/parity.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

// The short version of `make parity`: two of its packages, on the default machine's kernel (cached by the others).
describe('container parity, measured with Go\'s own tests: a FROM-scratch container against the machine', { skip }, () => {
  it('syscall and os/user: every test that passes in the container passes in the machine', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const results = await measureParity(['syscall', 'os/user'], tempDir('parity'), () => undefined);
    assert.deepEqual(results.map((r) => r.importPath), ['syscall', 'os/user']);
    for (const result of results) {
      // Both sides ran the tests to their end (syscall's own tests include setuid, socket pairs and capget).
      assert.ok(counts(result.container).pass >= 5 && result.container.exitStatus !== undefined, `${result.importPath} in the container: ${JSON.stringify(counts(result.container))}`);
      assert.ok(counts(result.machine).pass >= 5 && result.machine.exitStatus !== undefined, `${result.importPath} in the machine: ${JSON.stringify(counts(result.machine))}`);
      assert.deepEqual(regressions(result), [], `${result.importPath}: passes in the container, not in the machine`);
    }
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
    assert.equal(execFileSync('docker', ['images', '-q', '--filter', 'reference=gopid1-parity'], { encoding: 'utf8' }).trim(), '', 'the scratch images are removed');
  });
});
