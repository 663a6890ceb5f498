import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, MAX_PARTIAL_LINE } from '../../src/lines.js';

function split(chunks: (string | Buffer)[]): { lines: string[]; splitter: LineSplitter } {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(chunk);
  return { lines, splitter };
}

describe('LineSplitter', () => {
  it('keeps a UTF-8 character whole when a chunk ends inside it', () => {
    const bytes = Buffer.from('Grüße, 世界 🚀\n', 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(split([bytes.subarray(0, cut), bytes.subarray(cut)]).lines, ['Grüße, 世界 🚀'], `cut at byte ${cut}`);
    }
    const oneByOne = split([...bytes].map((byte) => Buffer.from([byte])));
    assert.deepEqual(oneByOne.lines, ['Grüße, 世界 🚀']);
  });

  it('gives out a last line whose character was cut, at the end', () => {
    const bytes = Buffer.from('ü', 'utf8');
    const { lines, splitter } = split([bytes.subarray(0, 1)]);
    splitter.end();
    assert.equal(lines.length, 1);
  });

  it('takes a line that never ends in small chunks without keeping more than MAX_PARTIAL_LINE of it', { timeout: 20_000 }, () => {
    const chunk = 'x'.repeat(64);
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    for (let sent = 0; sent < 4 * 1024 * 1024; sent += chunk.length) {
      splitter.push(chunk);
      assert.ok(splitter.partialHead().length <= 256);
    }
    assert.ok(splitter.partial.length <= MAX_PARTIAL_LINE);
    assert.ok(lines.length >= 60 && lines.every((line) => line.length > MAX_PARTIAL_LINE - 64 && /^x+$/.test(line)), 'the long line comes out in pieces');
    splitter.push('\nafter\n');
    assert.equal(lines.at(-1), 'after');
  });

  it('keeps the last redraws of a progress bar drawn with carriage returns, so its last state still matches', { timeout: 20_000 }, () => {
    const updates = Array.from({ length: 20_000 }, (_, n) => `\rprogress ${n}%`);
    const { lines, splitter } = split([...updates, ' done\r\n', 'next\n']);
    assert.match(lines.at(-2) ?? '', /progress 19999% done$/);
    assert.ok((lines.at(-2) ?? '').length <= MAX_PARTIAL_LINE, 'only the last redraws are kept');
    assert.equal(lines.at(-1), 'next');
    assert.equal(splitter.partial, '');
  });

  it('splits lines across chunks and drops CR and escape sequences as before', () => {
    assert.deepEqual(split(['ab', 'c\r\nd', 'e\n\x1b[1mbold\x1b[0m\n']).lines, ['abc', 'de', 'bold']);
  });
});
