import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginDir, pluginInvocation, pluginScript } from '../../src/cli/docker-plugin-command.js';

describe('the Docker CLI plugin: what the docker CLI runs it with', () => {
  it('answers the metadata call', () => {
    assert.deepEqual(pluginInvocation(['docker-cli-plugin-metadata']), { metadata: true });
  });

  it('passes what follows `gopid1` to gopid1, and turns the docker CLI\'s global options into its environment', () => {
    assert.deepEqual(pluginInvocation(['gopid1', 'build', 'app', '--context', 'x']), { args: ['build', 'app', '--context', 'x'], env: {} });
    assert.deepEqual(pluginInvocation(['--context', 'remote', 'gopid1', 'boot']), { args: ['boot'], env: { DOCKER_CONTEXT: 'remote' } });
    assert.deepEqual(pluginInvocation(['-H', 'tcp://h:2376', '--tlsverify', '--config=/c', '-D', '--log-level', 'debug', 'gopid1', 'clean']), {
      args: ['clean'],
      env: { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: '/c' },
    });
    assert.deepEqual(pluginInvocation(['-c', 'gopid1', 'gopid1', '--help']), { args: ['--help'], env: { DOCKER_CONTEXT: 'gopid1' } }, 'a context named gopid1 is a value, not the command');
  });

  it('installs as a script that runs this Node on the package\'s entry, in the docker CLI\'s plugin directory', () => {
    assert.equal(pluginScript('/usr/bin/node', "/opt/it's"), `#!/bin/sh\n# The gopid1 Docker CLI plugin (gopid1 docker-plugin install).\nexec '/usr/bin/node' '/opt/it'\\''s/build/src/cli/docker-plugin-main.js' "$@"\n`);
    assert.equal(pluginDir({ DOCKER_CONFIG: '/cfg' }), '/cfg/cli-plugins');
    assert.match(pluginDir({}), /\/\.docker\/cli-plugins$/);
  });
});
