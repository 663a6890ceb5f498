import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { processAlive, removeDeadRunFiles, removeDeadStaging } from '../../src/artifacts/leftovers.js';
import { OutputDir } from '../../src/artifacts/out.js';

/** The pid of a process that has ended. */
const deadPid = spawnSync('true').pid ?? 0;

describe('leftovers of runs that died', () => {
  it('tells a running process from an ended one', () => {
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(deadPid), false);
    assert.equal(processAlive(0), false);
  });

  it('removes the cache\'s and the temporary directory\'s files of dead runs, keeps a live run\'s and the entries', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'gopid1-leftovers-'));
    const cache = path.join(root, 'cache');
    const tmp = path.join(root, 'tmp');
    const kernel = path.join(cache, 'kernel');
    const sources = path.join(cache, 'sources');
    for (const dir of [kernel, sources, tmp]) mkdirSync(dir, { recursive: true });
    const dead = [path.join(kernel, `.tmp-${deadPid}-abc`), path.join(kernel, '.damaged-123'), path.join(sources, `linux-6.1.tar.xz.partial-${deadPid}`), path.join(tmp, `gopid1-qmp-${deadPid}-x1`), path.join(tmp, `gopid1-boot-${deadPid}-x3`)];
    const kept = [path.join(kernel, `.tmp-${process.pid}-def`), path.join(kernel, 'a1b2c3'), path.join(sources, `linux-6.2.tar.xz.partial-${process.pid}`), path.join(sources, 'linux-6.1.tar.xz'), path.join(tmp, `gopid1-boot-${process.pid}-y2`), path.join(tmp, 'someone-else')];
    for (const file of [...dead, ...kept]) {
      if (path.basename(file).includes('.')) writeFileSync(file, 'x');
      else mkdirSync(file);
    }
    mkdirSync(path.join(kernel, '.tmp-notapid'));
    const removed = await removeDeadRunFiles({ cacheRoot: cache, tmpDir: tmp });
    assert.deepEqual(removed.sort(), dead.sort());
    for (const file of kept) assert.ok(existsSync(file), file);
  });

  it('a build removes the staging directories of dead builds in its out dir, not of live ones', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'gopid1-out-'));
    const app = mkdtempSync(path.join(os.tmpdir(), 'gopid1-app-'));
    for (const [name, pid] of [['.gopid1-staging-dead', deadPid], ['.gopid1-staging-live', process.pid]] as const) {
      mkdirSync(path.join(out, name));
      writeFileSync(path.join(out, name, '.gopid1-pid'), `${pid}\n`);
    }
    mkdirSync(path.join(out, '.gopid1-staging-unmarked'));
    assert.deepEqual(await removeDeadStaging(out), [path.join(out, '.gopid1-staging-dead')]);
    const opened = await OutputDir.open(out, { appDir: app, runId: 'now' });
    assert.ok(existsSync(path.join(opened.staging, '.gopid1-pid')), 'a build marks its own staging directory');
    await opened.discard();
    assert.ok(existsSync(path.join(out, '.gopid1-staging-live')) && existsSync(path.join(out, '.gopid1-staging-unmarked')));
  });
});
