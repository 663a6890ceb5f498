import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dockerOptions, engineEndpoint } from '../../src/engine/endpoint.js';
import { isGopid1Error } from '../../src/errors.js';

/** A docker config dir with these contexts (name → endpoint) and this current one, as the docker CLI writes them. */
function dockerConfig(contexts: Record<string, string>, current?: string, tls?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-docker-config-'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(current ? { currentContext: current } : {}));
  for (const [name, host] of Object.entries(contexts)) {
    const id = createHash('sha256').update(name).digest('hex');
    mkdirSync(path.join(dir, 'contexts', 'meta', id), { recursive: true });
    writeFileSync(path.join(dir, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
    if (name === tls) {
      const certs = path.join(dir, 'contexts', 'tls', id, 'docker');
      mkdirSync(certs, { recursive: true });
      for (const file of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(path.join(certs, file), file);
    }
  }
  return dir;
}

describe('which Docker engine: the docker CLI\'s rule', () => {
  it('DOCKER_HOST first, then DOCKER_CONTEXT, then the current context, then the local socket', () => {
    const config = dockerConfig({ rootless: 'unix:///run/user/1000/docker.sock', remote: 'ssh://me@build.example:2222' }, 'rootless');
    assert.deepEqual(engineEndpoint({ DOCKER_HOST: 'tcp://h:2375', DOCKER_CONFIG: config }), { url: 'tcp://h:2375', source: 'DOCKER_HOST', options: {} });
    const current = engineEndpoint({ DOCKER_CONFIG: config });
    assert.equal(current.source, 'Docker context "rootless"');
    assert.deepEqual(current.options, { socketPath: '/run/user/1000/docker.sock' });
    assert.deepEqual(engineEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'remote' }).options, { protocol: 'ssh', host: 'build.example', port: '2222', username: 'me' });
    assert.equal(engineEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'default' }).url, 'unix:///var/run/docker.sock');
    assert.equal(engineEndpoint({ DOCKER_CONFIG: dockerConfig({}) }).url, 'unix:///var/run/docker.sock');
    assert.equal(engineEndpoint({}, mkdtempSync(path.join(os.tmpdir(), 'gopid1-home-'))).source, 'the local socket');
  });

  it('takes a tcp context\'s TLS files, and says so when a context is missing', () => {
    const config = dockerConfig({ secure: 'tcp://10.0.0.5:2376' }, 'secure', 'secure');
    const options = engineEndpoint({ DOCKER_CONFIG: config }).options;
    assert.equal(options.protocol, 'https');
    assert.equal(String(options.ca), 'ca.pem');
    assert.deepEqual(dockerOptions('tcp://10.0.0.5'), { host: '10.0.0.5', port: 2375, protocol: 'http' });
    assert.throws(
      () => engineEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'gone' }),
      (error: unknown) => isGopid1Error(error) && error.code === 'DOCKER_UNAVAILABLE' && /the Docker context "gone" \(DOCKER_CONTEXT\) has no engine endpoint/.test(error.message) && /docker context ls/.test(error.hint ?? ''),
    );
    assert.throws(() => dockerOptions('npipe:////./pipe/docker_engine'), /speaks unix:\/\/, tcp:\/\/ and ssh:\/\//);
  });
});
