import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { e2ePrerequisites, hello, leftoversOf, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites() || (process.getuid?.() === 0 ? false : 'mounting a tiny tmpfs as the out dir needs root');
const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in:\n${text}`);
/** A build that finds the disk full must end by itself: it used to hang on the engine's half-read archive. */
const MUST_END_WITHIN_MS = 90_000;

describe('a full disk', { skip }, () => {
  it('an out dir on a full disk: exit 1, one paragraph naming the out dir, ENOSPC and what to do, nothing half-written', { timeout: 2 * MUST_END_WITHIN_MS }, async () => {
    const out = tempDir('robust-full');
    // 2 MiB: room for the logs, not for bzImage (1.5 MB) and init (1.4 MB) together.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', out]);
    let pid = 0;
    let child: { kill: (signal: NodeJS.Signals) => boolean } | undefined;
    const watchdog = setTimeout(() => child?.kill('SIGKILL'), MUST_END_WITHIN_MS);
    try {
      writeFileSync(path.join(out, 'notes.txt'), 'what the out dir held before\n');
      const run = await runCli(['build', hello, '--out', out, '--force'], {
        onOutput: (_text, process) => {
          pid = process.pid ?? 0;
          child = process;
        },
      });
      assert.notEqual(run.signal, 'SIGKILL', `the build did not end within ${MUST_END_WITHIN_MS / 1000} s:\n${run.stderr}`);
      assert.equal(run.code, 1, run.stderr);
      const escaped = out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      assert.match(run.stderr, new RegExp(`gopid1: error: no space left on device \\(ENOSPC\\) writing to the out dir ${escaped} \\[NO_SPACE\\]`));
      assert.match(run.stderr, new RegExp(`→ Free space on the disk that holds ${escaped} \\(\`df -h ${escaped}\`\\), or choose another --out on a disk with room`));
      const paragraph = run.stderr.slice(run.stderr.indexOf('gopid1: error:')).trimEnd();
      assert.doesNotMatch(paragraph, /\n\s*\n/, `the error is one paragraph:\n${paragraph}`);
      assert.doesNotMatch(run.stderr, /internal error|this is a bug/);
      noStack(run.stderr);

      const left = readdirSync(out).sort();
      assert.deepEqual(left.filter((name) => name !== 'logs'), ['notes.txt'], `only what was there before, and logs/: ${left.join(' ')}`);
      assert.equal(readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'what the out dir held before\n');
      assert.ok(pid > 0);
      assert.deepEqual(leftoversOf([pid]), { containers: [], volumes: [], images: [] }, 'the builder containers are removed');
    } finally {
      clearTimeout(watchdog);
      // Lazily: a build that hung (the failure above) may still hold a file there.
      execFileSync('umount', ['--lazy', out]);
    }
  });
});
