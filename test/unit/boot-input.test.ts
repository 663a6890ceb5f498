import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boot, isGopid1Error } from '../../src/index.js';

describe('boot: input refused before anything starts', () => {
  it('a --timeout longer than a Node timer holds (2^31 - 1 ms) is refused, not fired at once', async () => {
    await assert.rejects(boot({ dir: '/nonexistent', timeoutSeconds: 2_500_000 }), (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && /--timeout must be at most 2147483 s/.test(error.message));
  });
});
