import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { Gopid1Error, describeError } from '../errors.js';
import { withTimeout } from '../timeout.js';
import { engineEndpoint } from './endpoint.js';
import { runLabels } from './labels.js';

/** A local or tcp engine answers in milliseconds; an ssh:// engine needs a handshake first. */
const PING_TIMEOUT_MS = 1500;
const SSH_PING_TIMEOUT_MS = 10_000;

/** A connection to one Docker engine, for one run of gopid1: what the functions of src/engine/ share. */
export interface DockerSession {
  /** Identifies this run; the value of the `gopid1` label on everything it creates. */
  readonly runId: string;
  /** Where the engine lives, for messages: "unix:///var/run/docker.sock", "tcp://…", "ssh://…". */
  readonly endpoint: string;
  readonly serverVersion: string;
  /** The engine's architecture in Go's words (amd64, arm64): what the images it runs must be built for. */
  readonly serverArch: string;
  readonly docker: Docker;
}

export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

function endpointOf(): string {
  try {
    return engineEndpoint().url;
  } catch {
    return 'the Docker engine';
  }
}

/**
 * Connects to the engine the docker CLI would use (engine/endpoint.ts: DOCKER_HOST, else the Docker context, else
 * the local socket; unix, tcp with TLS, or ssh) and pings it. Fails within ~2 s when nothing answers.
 */
export async function openSession(options: { runId?: string } = {}): Promise<DockerSession> {
  const found = engineEndpoint();
  const endpoint = found.url;
  const pingTimeout = endpoint.startsWith('ssh://') ? SSH_PING_TIMEOUT_MS : PING_TIMEOUT_MS;
  let probe: Docker;
  let docker: Docker;
  try {
    probe = new Docker({ ...found.options, timeout: pingTimeout });
    docker = new Docker(found.options);
  } catch (error) {
    throw new Gopid1Error('DOCKER_UNAVAILABLE', `cannot use DOCKER_HOST=${endpoint}: ${describeError(error)}`, {
      hint: 'Set DOCKER_HOST to unix:///path/to/docker.sock, tcp://host:port or ssh://user@host, or unset it.',
      cause: error,
    });
  }
  let version: string;
  let arch: string;
  try {
    const info = (await withTimeout(
      probe.ping().then(() => probe.version()),
      pingTimeout,
    )) as { Version?: string; Arch?: string };
    version = info.Version ?? 'unknown';
    arch = info.Arch ?? 'unknown';
  } catch (error) {
    throw new Gopid1Error('DOCKER_UNAVAILABLE', `no Docker engine answers at ${endpoint}${found.source === 'DOCKER_HOST' || found.source === 'the local socket' ? '' : ` (${found.source})`} (${describeError(error)})`, {
      hint:
        'gopid1 builds the kernel and the Go program in Docker containers, so it needs a running engine. ' +
        'On Debian as root, `make setup` in the gopid1 checkout installs docker.io and starts dockerd; ' +
        'otherwise start your engine (`sudo systemctl start docker`), add yourself to the docker group, ' +
        'or point DOCKER_HOST at a remote engine (tcp://host:2376 with DOCKER_TLS_VERIFY=1, or ssh://user@host).',
      cause: error,
    });
  }
  return { runId: options.runId ?? newRunId(), endpoint, serverVersion: version, serverArch: arch, docker };
}

export function labelsFor(session: DockerSession, role: string): Record<string, string> {
  return runLabels(session.runId, role);
}

/**
 * True when talking to the engine failed at the connection (its socket is gone, refused, or hung up on us), as
 * opposed to the engine answering with an error.
 */
export function connectionLost(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
    const { code, syscall } = current as NodeJS.ErrnoException;
    // ENOENT only from connect(): the engine's socket file is gone (not a local file that is missing).
    if (code === 'ENOENT' ? syscall === 'connect' : code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH'].includes(code)) return true;
    if (/socket hang up|connect (ENOENT|ECONNREFUSED)|ECONNRESET/.test(current.message)) return true;
  }
  return false;
}

/**
 * The engine answered when the run began and is gone now (stopped, restarted, crashed, or its socket went
 * away) while `during` ran.
 */
export function engineLost(during: string, error: unknown): Gopid1Error {
  return new Gopid1Error('ENGINE_LOST', `lost the connection to the Docker engine at ${endpointOf()} during ${during} (${describeError(error)})`, {
    step: during,
    hint:
      'The engine stopped, restarted or crashed mid-run. Check that it answers (`docker info`; `sudo systemctl restart docker` if not) and run the ' +
      'command again: the kernel comes back from the cache, and `gopid1 clean` removes the containers this run could not.',
    cause: error,
  });
}

/** Wraps an engine API failure in the error family. */
export function engineError(what: string, error: unknown): Gopid1Error {
  if (error instanceof Gopid1Error) return error;
  if (connectionLost(error)) return engineLost(what, error);
  return new Gopid1Error('DOCKER_FAILED', `${what}: ${describeError(error)}`, {
    hint: 'Check the engine (`docker info`) and its log; run again with --debug for the full trace.',
    cause: error,
  });
}
