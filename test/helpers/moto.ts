import { execFileSync, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { connectEngine } from '../../src/engine/engine.js';
import { packageRoot } from '../../src/paths.js';
import { DEFAULT_SERIES } from '../../src/plan/vocabulary.js';

/** One request moto answered, as its recorder wrote it. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body: text, or base64 when `bodyEncoded`. */
  body: string;
  bodyEncoded: boolean;
}

export interface Moto {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL. */
  url: string;
  /** Environment for a gopid1 process that talks to this moto (endpoint, region, test credentials). */
  env: Record<string, string>;
  /** Every request answered since the start, in order. */
  requests: () => Promise<RecordedRequest[]>;
  close: () => void;
}

/**
 * moto's server (python3-moto from Debian) in a container on a free port of 127.0.0.1: a real AWS API emulator, not a
 * mock written for the test. Its image is built like the builder images; the container is labelled gopid1 (so
 * `gopid1 clean` removes one a killed test left) and removed by close().
 */
export async function startMoto(logDir: string): Promise<Moto> {
  const engine = await connectEngine();
  const image = await engine.ensureBuilderImage({ name: 'moto', contextDir: path.join(packageRoot, 'test', 'images', 'moto'), buildArgs: { SERIES: DEFAULT_SERIES }, baseImage: `debian:${DEFAULT_SERIES}` },
    { logFile: path.join(logDir, 'moto-image.log') },
  );
  const id = execFileSync('docker', ['run', '-d', '--rm', '--label', `gopid1=test-moto`, '--label', 'gopid1.role=test-moto', '-p', '127.0.0.1::5000', image.id]).toString().trim();
  let closed = false;
  const close = (): void => {
    if (!closed) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
    closed = true;
  };
  try {
    const port = /:(\d+)\s*$/m.exec(execFileSync('docker', ['port', id, '5000/tcp']).toString())?.[1];
    const url = `http://127.0.0.1:${port}`;
    // Wait for the server's own word first: a request sent before it listens can hang on Docker's port proxy.
    const logs = () => {
      const run = spawnSync('docker', ['logs', id]);
      return `${run.stdout.toString()}${run.stderr.toString()}`;
    };
    for (let attempt = 0; !logs().includes('Running on'); attempt++) {
      if (attempt > 150) throw new Error(`moto did not start: ${logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!(await fetch(`${url}/moto-api/`)).ok) throw new Error(`moto does not answer at ${url}`);
    return {
      url,
      env: { AWS_ENDPOINT_URL: url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true' },
      requests: async () => {
        const text = await (await fetch(`${url}/moto-api/recorder/download-recording`)).text();
        return text
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => {
            const entry = JSON.parse(line) as { method: string; url: string; headers: Record<string, string>; body: string | null; body_encoded: boolean };
            return { method: entry.method, url: entry.url, headers: entry.headers, body: entry.body ?? '', bodyEncoded: entry.body_encoded };
          });
      },
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

/** What a proxy in front of moto does with one request: pass it on, or answer it with a fault instead. */
export type Fault = 'pass' | { status: number; type: string; message: string };

export interface FaultyProxy {
  /** http://127.0.0.1:<port>, e.g. for AWS_ENDPOINT_URL_EBS. */
  url: string;
  /** Requests answered with a fault so far. */
  faults: () => number;
  close: () => Promise<void>;
}

/**
 * An HTTP proxy in front of moto that answers some requests with an AWS error instead (throttling, a server error),
 * as AWS does under load, and passes the rest on unchanged: moto itself never throttles.
 */
export async function faultyProxy(target: string, decide: (method: string, url: string) => Fault): Promise<FaultyProxy> {
  let faults = 0;
  const server = http.createServer((request, response) => {
    const fault = decide(request.method ?? 'GET', request.url ?? '/');
    if (fault !== 'pass') {
      faults += 1;
      request.resume();
      response.writeHead(fault.status, { 'content-type': 'application/json', 'x-amzn-errortype': fault.type });
      response.end(JSON.stringify({ message: fault.message }));
      return;
    }
    const upstream = http.request(new URL(request.url ?? '/', target), { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    faults: () => faults,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
