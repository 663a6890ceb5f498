import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();

describe('`docker gopid1`: gopid1 as a Docker CLI plugin, run by the real docker client', { skip }, () => {
  const config = tempDir('docker-config');
  // The docker CLI of the test, with its own config directory: its plugins, its contexts. DOCKER_HOST would win over
  // --context, so it is left out.
  const { DOCKER_HOST: _host, DOCKER_CONTEXT: _context, ...rest } = process.env;
  const env = { ...rest, DOCKER_CONFIG: config, CI: '1' };
  const docker = (...args: string[]) => spawnSync('docker', args, { env, encoding: 'utf8' });

  it('installs, answers the plugin protocol and shows in docker --help', async () => {
    const installed = await runCli(['docker-plugin', 'install'], { env: { DOCKER_CONFIG: config } });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, new RegExp(`installed ${path.join(config, 'cli-plugins', 'docker-gopid1')}`));
    const metadata = JSON.parse(execFileSync(path.join(config, 'cli-plugins', 'docker-gopid1'), ['docker-cli-plugin-metadata']).toString()) as Record<string, string>;
    assert.equal(metadata.SchemaVersion, '0.1.0');
    assert.equal(metadata.Vendor, 'gopid1');
    assert.match(docker('--help').stdout, /gopid1\*?\s+Turn a Go program into a bootable Linux machine/);
  });

  it('honours the docker CLI\'s --context and -H', () => {
    assert.equal(docker('context', 'create', 'gp1-nowhere', '--docker', 'host=unix:///nonexistent/docker.sock').status, 0);
    let run = docker('--context', 'gp1-nowhere', 'gopid1', 'build', hello, '--out', tempDir('plugin-out'));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /no Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock \(Docker context "gp1-nowhere"\).*\[DOCKER_UNAVAILABLE\]/);
    run = docker('-H', 'unix:///nonexistent/other.sock', 'gopid1', 'build', hello, '--out', tempDir('plugin-out'));
    assert.match(run.stderr, /no Docker engine answers at unix:\/\/\/nonexistent\/other\.sock .*\[DOCKER_UNAVAILABLE\]/);
  });

  it('builds and boots through `docker gopid1`', { timeout: BUILD_TIMEOUT_MS }, () => {
    const out = tempDir('plugin-build');
    const built = docker('gopid1', 'build', hello, '--out', out);
    assert.equal(built.status, 0, built.stderr);
    const booted = docker('gopid1', 'boot', out, '--expect', 'Hello from Golang', '--timeout', '120');
    assert.equal(booted.status, 0, booted.stderr);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });
});
