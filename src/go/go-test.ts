import path from 'node:path';
import { packFiles } from '../engine/engine.js';
import { stageBuilder } from '../builders.js';
import { DEFAULT_SERIES } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import { Gopid1Error } from '../errors.js';
import { type GoBuildOptions, offlineStep, withGoSteps, withoutStepHeader } from './go-build.js';

/** A package `gopid1 test` runs: its import path and its directory relative to the module's (none outside it). */
export interface TestPackage {
  importPath: string;
  dir?: string;
}

/**
 * The packages that `patterns` (go list patterns: `.`, `./...`, `./pkg/x`) name and that have tests, as `go list`
 * says in the Go builder (after fetching the modules, as a build does).
 */
export async function listTestPackages(context: StageContext, options: Omit<GoBuildOptions, 'package' | 'outName' | 'test'> & { patterns: string[] }): Promise<TestPackage[]> {
  const buildOptions: GoBuildOptions = { ...options, package: '.', outName: 'app' };
  return withGoSteps(context, buildOptions, async (step, volumes) => {
    const packages: TestPackage[] = [];
    await context.engine.runStep({
      role: 'go-list',
      title: 'go: list the packages with tests',
      ...offlineStep(context, step, volumes),
      cmd: ['go-step', 'list'],
      env: { ...step.env, GOPID1_PACKAGE: options.patterns.join(' '), GOPROXY: 'off' },
      onLine: (line) => {
        const found = /^gopid1: package (\S+) (.+)$/.exec(line);
        if (found) packages.push({ importPath: found[1] ?? '', ...(found[2] !== '-' ? { dir: found[2] ?? '.' } : {}) });
      },
      onFailure: listFailure(options.patterns, step.logFile),
    });
    return packages;
  });
}

/** The error of a `go list` that failed: most often a pattern that names no package of the module, or a broken go.mod. */
function listFailure(patterns: string[], logFile: string): (exitCode: number, tail: string[]) => Gopid1Error {
  return (exitCode, tail) =>
    new Gopid1Error('BAD_INPUT', `go list cannot list the packages ${patterns.join(' ')} (exit code ${exitCode})`, {
      step: 'go: list the packages with tests',
      exitCode,
      logTail: withoutStepHeader(tail),
      logFile,
      hint: 'Name packages as go test takes them: ./... or ./pkg/x inside the module (run in its directory, or give it with -C), or an import path such as os/exec.',
    });
}

/**
 * A test binary's output (run with -test.v=test2json) as `go test -json` events, one JSON object a line: converted
 * by the Go builder's own `go tool test2json`, so the events are exactly go test's.
 */
export async function test2json(context: StageContext, importPath: string, output: string[]): Promise<string[]> {
  const { engine, report, signal, out } = context;
  const builder = await stageBuilder(engine, { stage: 'go', series: DEFAULT_SERIES, dockerfilesDir: context.dockerfilesDir, logDir: out.logs, report, signal });
  const events: string[] = [];
  await engine.runStep({
    role: 'go-test2json',
    title: 'go: test2json',
    image: builder.id,
    cmd: ['go-step', 'test2json'],
    env: { GOPID1_PACKAGE: importPath },
    network: 'none',
    limits: context.limits,
    writable: ['/src', '/out'],
    inputs: [{ path: '/src', archive: () => packFiles([{ name: 'output', data: Buffer.from(output.map((line) => `${line}\n`).join('')) }]) }],
    logFile: path.join(out.logs, 'test2json.log'),
    onLine: (line) => {
      if (line.startsWith('{')) events.push(line);
    },
    ...(signal ? { signal } : {}),
  });
  return events;
}
