import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { Gopid1Error } from '../errors.js';

/**
 * Which Docker engine gopid1 talks to, by the rule the docker CLI follows (so `docker info` and gopid1 agree):
 * DOCKER_HOST; else the context DOCKER_CONTEXT names, or the config's currentContext (rootless Docker, Docker
 * Desktop, a remote engine set up with `docker context use`); else the local socket.
 */
export interface EngineEndpoint {
  /** unix:///…, tcp://…, ssh://… */
  url: string;
  /** Where the rule found it, for messages. */
  source: string;
  /** For dockerode; empty for DOCKER_HOST, which dockerode reads itself (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH). */
  options: Docker.DockerOptions;
}

const DEFAULT_SOCKET = 'unix:///var/run/docker.sock';

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** dockerode options for an engine URL, with the context's TLS files when it has them. */
export function dockerOptions(url: string, tlsDir?: string): Docker.DockerOptions {
  const parsed = new URL(url);
  if (parsed.protocol === 'unix:') return { socketPath: decodeURIComponent(parsed.pathname) };
  if (parsed.protocol === 'ssh:') return { protocol: 'ssh', host: parsed.hostname, port: parsed.port || 22, ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}) };
  if (parsed.protocol === 'tcp:' || parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    const tls = tlsDir !== undefined && existsSync(path.join(tlsDir, 'ca.pem'));
    const file = (name: string) => readFileSync(path.join(tlsDir ?? '', name));
    return {
      host: parsed.hostname,
      port: parsed.port || (tls ? 2376 : 2375),
      protocol: tls || parsed.protocol === 'https:' ? 'https' : 'http',
      ...(tls ? { ca: file('ca.pem'), cert: file('cert.pem'), key: file('key.pem') } : {}),
    };
  }
  throw new Gopid1Error('DOCKER_UNAVAILABLE', `cannot use the Docker engine at ${url}: gopid1 speaks unix://, tcp:// and ssh://`, { hint: 'Point DOCKER_HOST (or the Docker context) at one of those.' });
}

export function engineEndpoint(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): EngineEndpoint {
  if (env.DOCKER_HOST) return { url: env.DOCKER_HOST, source: 'DOCKER_HOST', options: {} };
  const configDir = env.DOCKER_CONFIG || path.join(home, '.docker');
  const name = env.DOCKER_CONTEXT || (readJson(path.join(configDir, 'config.json'))?.currentContext as string | undefined);
  if (!name || name === 'default') return { url: DEFAULT_SOCKET, source: 'the local socket', options: { socketPath: new URL(DEFAULT_SOCKET).pathname } };
  // The docker CLI keeps a context under the sha256 of its name.
  const id = createHash('sha256').update(name).digest('hex');
  const meta = readJson(path.join(configDir, 'contexts', 'meta', id, 'meta.json')) as { Endpoints?: { docker?: { Host?: string } } } | undefined;
  const host = meta?.Endpoints?.docker?.Host;
  if (!host) {
    throw new Gopid1Error('DOCKER_UNAVAILABLE', `the Docker context "${name}" (${env.DOCKER_CONTEXT ? 'DOCKER_CONTEXT' : `currentContext in ${path.join(configDir, 'config.json')}`}) has no engine endpoint`, {
      hint: 'List the contexts with `docker context ls` and pick one with `docker context use <name>`, or set DOCKER_HOST.',
    });
  }
  return { url: host, source: `Docker context "${name}"`, options: dockerOptions(host, path.join(configDir, 'contexts', 'tls', id, 'docker')) };
}
