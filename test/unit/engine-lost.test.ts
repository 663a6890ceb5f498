import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionLost, engineError, engineLost } from '../../src/engine/connect.js';

function errno(code: string, message: string, extra: Record<string, unknown> = {}): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, ...extra });
}

describe('the engine going away mid-run', () => {
  it('tells a lost connection from an error the engine answered with', () => {
    assert.ok(connectionLost(errno('ECONNRESET', 'read ECONNRESET')));
    assert.ok(connectionLost(new Error('socket hang up')));
    assert.ok(connectionLost(errno('ECONNREFUSED', 'connect ECONNREFUSED /var/run/docker.sock', { syscall: 'connect' })));
    assert.ok(connectionLost(errno('ENOENT', 'connect ENOENT /tmp/proxy.sock', { syscall: 'connect' })));
    assert.ok(connectionLost(new Error('wrapped', { cause: errno('EPIPE', 'write EPIPE') })));
    assert.ok(!connectionLost(errno('ENOENT', "open '/tmp/app/main.go'", { syscall: 'open' })), 'a missing local file is not the engine');
    assert.ok(!connectionLost(Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 })));
  });

  it('is ENGINE_LOST naming the engine and the step, with what to do', () => {
    const error = engineLost('go: build', new Error('socket hang up'));
    assert.equal(error.code, 'ENGINE_LOST');
    assert.match(error.message, /^lost the connection to the Docker engine at \S+ during go: build \(socket hang up\)$/);
    assert.equal(error.step, 'go: build');
    assert.match(error.hint ?? '', /`docker info`/);
    assert.match(error.hint ?? '', /restart docker/);
    assert.match(error.hint ?? '', /run the command again/);
    assert.match(error.hint ?? '', /`gopid1 clean`/);
    assert.equal(engineError('cannot inspect image x', errno('ECONNRESET', 'read ECONNRESET')).code, 'ENGINE_LOST');
    assert.equal(engineError('cannot inspect image x', new Error('(HTTP code 500) server error')).code, 'DOCKER_FAILED');
  });
});
