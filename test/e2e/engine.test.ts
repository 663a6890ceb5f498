import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { connectEngine } from '../../src/engine/engine.js';
import { Gopid1Error } from '../../src/errors.js';
import { e2ePrerequisites, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

function context(dir: string, run: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'Dockerfile'), `FROM debian:trixie\nRUN ${run}\nRUN echo packages > /usr/share/gopid1-packages.txt\n`);
  return dir;
}

describe('engine: builder images and steps', { skip }, () => {
  it('reuses an unchanged builder image and rebuilds a changed one', { timeout: 5 * 60_000 }, async () => {
    const engine = await connectEngine();
    const dir = context(path.join(tempDir('image'), 'ctx'), `echo first-${Date.now()}`);
    const logFile = path.join(dir, '..', 'image.log');
    const spec = { name: 'testprobe', contextDir: dir, buildArgs: {}, baseImage: 'debian:trixie' };
    const first = await engine.ensureBuilderImage(spec, { logFile });
    assert.equal(first.built, true);
    const again = await engine.ensureBuilderImage(spec, { logFile });
    assert.equal(again.built, false);
    assert.equal(again.id, first.id);
    assert.equal(again.tag, first.tag);
    context(dir, `echo second-${Date.now()}`);
    const changed = await engine.ensureBuilderImage(spec, { logFile });
    assert.equal(changed.built, true);
    assert.notEqual(changed.tag, first.tag);
    await engine.removeImage(first.tag);
    await engine.removeImage(changed.tag);
  });

  it('fails an image build on the build stream\'s error, showing the failing line', { timeout: 5 * 60_000 }, async () => {
    const engine = await connectEngine();
    const dir = context(path.join(tempDir('badimage'), 'ctx'), 'echo about-to-fail && exit 7');
    await assert.rejects(engine.ensureBuilderImage({ name: 'testprobe', contextDir: dir, buildArgs: {}, baseImage: 'debian:trixie' }, { logFile: path.join(dir, '..', 'log') }), (error: unknown) => {
      assert.ok(error instanceof Gopid1Error);
      assert.equal(error.code, 'IMAGE_BUILD_FAILED');
      assert.match(error.message, /returned a non-zero code: 7/);
      assert.ok(error.logTail.some((line) => line.includes('about-to-fail')), error.logTail.join('\n'));
      return true;
    });
  });

  it('runs a step with labels, streams its lines, reports its exit code and removes the container', { timeout: 60_000 }, async () => {
    const engine = await connectEngine();
    const lines: string[] = [];
    const logFile = path.join(tempDir('step'), 'step.log');
    await assert.rejects(
      engine.runStep({
        role: 'probe',
        title: 'probe: fail',
        image: 'debian:trixie',
        cmd: ['sh', '-c', 'echo out; echo err >&2; exit 42'],
        logFile,
        onLine: (line) => lines.push(line),
      }),
      (error: unknown) => error instanceof Gopid1Error && error.code === 'STEP_FAILED' && error.exitCode === 42 && error.logTail.includes('err'),
    );
    assert.deepEqual(lines.sort(), ['err', 'out']);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('follows the current Docker context as the docker CLI does, and runs steps without capabilities or new privileges', { timeout: 60_000 }, async () => {
    // A context whose endpoint is another path to the local engine's socket: only the context leads there.
    const dir = tempDir('context');
    const socket = path.join(dir, 'engine.sock');
    symlinkSync('/var/run/docker.sock', socket);
    const config = path.join(dir, 'docker');
    const id = createHash('sha256').update('probe').digest('hex');
    mkdirSync(path.join(config, 'contexts', 'meta', id), { recursive: true });
    writeFileSync(path.join(config, 'config.json'), JSON.stringify({ currentContext: 'probe' }));
    writeFileSync(path.join(config, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: 'probe', Endpoints: { docker: { Host: `unix://${socket}` } } }));
    const saved = { host: process.env.DOCKER_HOST, config: process.env.DOCKER_CONFIG };
    delete process.env.DOCKER_HOST;
    process.env.DOCKER_CONFIG = config;
    try {
      const engine = await connectEngine();
      assert.equal(engine.endpoint, `unix://${socket}`);
      const lines: string[] = [];
      await engine.runStep({
        role: 'probe',
        title: 'probe: privileges',
        image: 'debian:trixie',
        cmd: ['sh', '-c', 'id -u; grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status'],
        logFile: path.join(dir, 'probe.log'),
        onLine: (line) => lines.push(line.replace(/\s+/g, ' ')),
      });
      // Root in the image, and still no capability at all.
      assert.deepEqual(lines, ['0', 'CapBnd: 0000000000000000', 'NoNewPrivs: 1']);
    } finally {
      if (saved.host === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved.host;
      if (saved.config === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved.config;
    }
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
