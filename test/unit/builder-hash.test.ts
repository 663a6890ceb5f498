import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { hashContext } from '../../src/engine/builder-images.js';

describe('builder image identity', () => {
  it('follows the Dockerfile, its files and build args, but not what the context ignores (the kernel fragments)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-context-'));
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM debian:trixie\n');
    mkdirSync(path.join(dir, 'fragments'));
    writeFileSync(path.join(dir, 'fragments', 'minimal.config'), 'CONFIG_64BIT=y\n');
    const before = await hashContext(dir, { SERIES: 'trixie' }, ['fragments']);
    writeFileSync(path.join(dir, 'fragments', 'minimal.config'), 'CONFIG_64BIT=y\nCONFIG_INPUT_EVDEV=y\n');
    writeFileSync(path.join(dir, 'fragments', 'net.config'), 'CONFIG_NET=y\n');
    assert.equal(await hashContext(dir, { SERIES: 'trixie' }, ['fragments']), before, 'fragments are inputs of each build, not of the image');
    assert.notEqual(await hashContext(dir, { SERIES: 'trixie' }), before, 'without the ignore they count');
    assert.notEqual(await hashContext(dir, { SERIES: 'bookworm' }, ['fragments']), before);
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM debian:trixie\nRUN true\n');
    assert.notEqual(await hashContext(dir, { SERIES: 'trixie' }, ['fragments']), before);
  });
});
