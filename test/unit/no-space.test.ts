import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { noSpaceError } from '../../src/artifacts/out.js';
import { stepFailure } from '../../src/engine/step-failure.js';
import { Gopid1Error, errnoIn } from '../../src/errors.js';

function errno(code: string, message: string, extra: Record<string, unknown> = {}): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, ...extra });
}

const step = { title: 'kernel: compile', cmd: ['kernel-step', 'compile', '2'], logFile: '/tmp/dist/logs/kernel.log' };

describe('a builder step that fails', () => {
  it('gets STEP_FAILED with the command, exit code, log tail and where the log is', () => {
    const error = stepFailure(step, 2, ['  CC      kernel/fork.o', 'make: *** [Makefile:1] Error 2']);
    assert.equal(error.code, 'STEP_FAILED');
    assert.equal(error.message, 'kernel: compile failed with exit code 2');
    assert.equal(error.command, 'kernel-step compile 2');
    assert.equal(error.exitCode, 2);
    assert.deepEqual(error.logTail, ['  CC      kernel/fork.o', 'make: *** [Makefile:1] Error 2']);
    assert.match(error.hint ?? '', /Read the log tail above \(full log: \/tmp\/dist\/logs\/kernel\.log\)/);
  });

  it('says the Docker engine\'s storage is full when its log tail says "No space left on device"', () => {
    const tail = ['  LD      vmlinux', 'ld: final link failed: No space left on device', 'make: *** [Makefile:1] Error 1'];
    const error = stepFailure(step, 2, tail);
    assert.equal(error.code, 'STEP_FAILED', 'still the step\'s failure, with its exit code and tail');
    assert.equal(error.exitCode, 2);
    assert.deepEqual(error.logTail, tail);
    assert.match(error.hint ?? '', /^The Docker engine's storage is full/);
    assert.match(error.hint ?? '', /`docker system df`/);
    assert.match(error.hint ?? '', /`gopid1 clean --images`/);
  });

  it('keeps the caller\'s own error (e.g. GO_COMPILE_FAILED), with the storage hint instead of its own', () => {
    const onFailure = (exitCode: number, tail: string[]): Gopid1Error =>
      new Gopid1Error('GO_COMPILE_FAILED', `the Go program does not build (go build exit code ${exitCode})`, { step: 'go: build', exitCode, logTail: tail, hint: 'Fix the compiler errors above and build again.' });
    const full = stepFailure({ ...step, onFailure }, 1, ['/cache/go-build/ab/cd-d: write /cache/go-build/ab/cd-d: no space left on device']);
    assert.equal(full.code, 'GO_COMPILE_FAILED');
    assert.equal(full.step, 'go: build');
    assert.match(full.hint ?? '', /Docker engine's storage is full/);
    const plain = stepFailure({ ...step, onFailure }, 1, ['./main.go:3:1: syntax error']);
    assert.equal(plain.hint, 'Fix the compiler errors above and build again.');
  });

  it('says the container was killed on exit code 137, with the memory limit when there is one', () => {
    const error = stepFailure({ ...step, limits: { memoryBytes: 512 * 2 ** 20 } }, 137, []);
    assert.match(error.hint ?? '', /killed \(out of memory within --memory-limit 512 MiB, or stopped from outside\)/);
  });
});


describe('a full disk', () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-nospace-'));

  it('finds ENOSPC in an error or its causes, and nothing else', async () => {
    const enospc = errno('ENOSPC', 'no space left on device, write');
    assert.equal(errnoIn(new Gopid1Error('DOCKER_FAILED', 'x', { cause: enospc }), 'ENOSPC'), enospc);
    assert.equal(errnoIn(errno('EACCES', 'permission denied'), 'ENOSPC'), undefined);
    assert.equal(await noSpaceError(errno('EACCES', 'permission denied'), { outDir }), undefined);
    assert.equal(await noSpaceError(new Gopid1Error('BAD_INPUT', 'x'), { outDir }), undefined);
  });

  it('names the out dir when the file that did not fit is in it', async () => {
    const cause = errno('ENOSPC', 'no space left on device, copyfile', { path: '/root/.cache/gopid1/kernel/x/bzImage', dest: path.join(outDir, '.gopid1-staging-1', 'bzImage') });
    const error = await noSpaceError(cause, { outDir });
    assert.equal(error?.code, 'NO_SPACE');
    assert.equal(error?.message, `no space left on device (ENOSPC) writing to the out dir ${outDir}`);
    assert.match(error?.hint ?? '', new RegExp(`^Free space on the disk that holds ${outDir} \\(\`df -h ${outDir}\`\\), or choose another --out`));
    assert.equal(error?.cause, cause);
  });

  it('names the file instead when it is elsewhere (the cache, the temporary directory)', async () => {
    const error = await noSpaceError(errno('ENOSPC', 'no space left on device, open', { path: '/var/cache/gopid1/kernel/tmp-1/bzImage' }), { outDir });
    assert.equal(error?.message, 'no space left on device (ENOSPC) writing /var/cache/gopid1/kernel/tmp-1/bzImage');
    assert.match(error?.hint ?? '', /^Free space on the disk that holds \/var\/cache\/gopid1\/kernel\/tmp-1 and run again/);
  });
});
