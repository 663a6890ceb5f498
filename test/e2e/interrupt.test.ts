import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

function qemuProcesses(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `qemu-system-x86_64.*${marker}`]).toString().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('interruption and clean-up', { skip }, () => {
  it('Ctrl-C during the kernel compile stops within seconds, removes every container, and writes no artifact', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('interrupt-build');
    let sentAt = 0;
    const run = await runCli(['build', hello, '--out', out, '--no-cache'], {
      onOutput: (text, child) => {
        if (sentAt === 0 && /compiling Linux/.test(text)) {
          // Let a few objects compile, then interrupt as a user would.
          setTimeout(() => {
            sentAt = Date.now();
            child.kill('SIGINT');
          }, 3000);
        }
      },
    });
    assert.ok(sentAt > 0, `the kernel compile never started:\n${run.stderr}`);
    assert.equal(run.code, 130, run.stderr);
    assert.ok(Date.now() - sentAt < 15_000, `took ${Date.now() - sentAt} ms to stop`);
    assert.match(run.stderr, /interrupted during kernel: compile \[INTERRUPTED\]/);
    assert.deepEqual(readdirSync(out).sort(), ['logs'], 'no artifact and no staging directory left');
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('Ctrl-C during a boot stops QEMU and exits 130, whether QEMU or gopid1 sees the signal first', { timeout: BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('interrupt-boot');
    assert.equal((await runCli(['build', hello, '--out', out])).code, 0);
    // To gopid1 alone (kill), then to the whole foreground group the way a terminal sends Ctrl-C (QEMU too).
    for (const target of ['gopid1', 'group'] as const) {
      let sent = false;
      const run = await runCli(['boot', out], {
        processGroup: true,
        onOutput: (text, child) => {
          if (!sent && text.includes('Hello from Golang') && child.pid !== undefined) {
            sent = true;
            if (target === 'group') process.kill(-child.pid, 'SIGINT');
            else child.kill('SIGINT');
          }
        },
      });
      assert.ok(sent);
      assert.equal(run.code, 130, `${target}: ${run.stderr}`);
      assert.match(run.stderr, /interrupted during boot \[INTERRUPTED\]/);
      assert.deepEqual(qemuProcesses(out), [], 'QEMU is gone');
    }
  });

  it('`gopid1 clean` sweeps containers and volumes a killed run left behind', { timeout: 60_000 }, async () => {
    execFileSync('docker', ['volume', 'create', '--label', 'gopid1=killed-run', 'gopid1-test-leftover']);
    const image = execFileSync('docker', ['images', '--filter', 'label=gopid1.builder', '--format', '{{.ID}}']).toString().split('\n')[0];
    assert.ok(image, 'a builder image exists after the builds above');
    execFileSync('docker', ['create', '--label', 'gopid1=killed-run', '--label', 'gopid1.role=kernel-compile', '-v', 'gopid1-test-leftover:/work', image, 'true']);
    assert.equal(leftovers().containers.length, 1);
    const run = await runCli(['clean']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /removed 1 container\(s\), 1 volume\(s\)/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
