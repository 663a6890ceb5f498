import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitCodeFor, signalExitCode } from '../../src/cli/output.js';
import { Gopid1Error, interrupted } from '../../src/errors.js';

describe('exit codes', () => {
  it('an interrupt exits 128 + the signal that caused it', () => {
    assert.equal(signalExitCode('SIGINT'), 130);
    assert.equal(signalExitCode('SIGTERM'), 143);
    assert.equal(signalExitCode('SIGHUP'), 129);
    assert.equal(exitCodeFor(interrupted('go: build'), 'SIGTERM'), 143);
    assert.equal(exitCodeFor(interrupted('go: build'), 'SIGINT'), 130);
    assert.equal(exitCodeFor(interrupted('go: build')), 130, 'an abort without a signal');
    assert.equal(exitCodeFor(new Gopid1Error('STEP_FAILED', 'x'), 'SIGTERM'), 1);
  });
});
