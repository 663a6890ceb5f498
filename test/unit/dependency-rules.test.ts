import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { packageRoot } from '../../src/paths.js';

const depcruise = path.join(packageRoot, 'node_modules', '.bin', 'depcruise');

/** A tree shaped like src/ with the given files, checked against the real rules; returns what dependency-cruiser said. */
async function cruise(root: string, files: Record<string, string>): Promise<{ exitCode: number; output: string }> {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  copyFileSync(path.join(packageRoot, '.dependency-cruiser.cjs'), path.join(root, '.dependency-cruiser.cjs'));
  writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] }));
  const result = await execa(depcruise, ['--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'src'], { cwd: root, reject: false, all: true });
  return { exitCode: result.exitCode ?? -1, output: String(result.all ?? '') };
}

describe('the architecture rules (dependency-cruiser, as make test runs them)', () => {
  const dirs: string[] = [];
  const fixture = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-rules-'));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  const legal = {
    'src/engine/engine.ts': "import { runStep } from './step.js';\nexport const engine = runStep;\n",
    'src/engine/step.ts': 'export const runStep = 1;\n',
    'src/index.ts': "export { build } from './api/build.js';\n",
    'src/api/build.ts': "import { engine } from '../engine/engine.js';\nimport { plan } from '../plan/plan.js';\nexport const build = [engine, plan];\n",
    'src/plan/plan.ts': 'export const plan = 1;\n',
    'src/cli/main.ts': "import { build } from '../index.js';\nexport const main = build;\n",
  };

  it('passes a tree that keeps them', async () => {
    const { exitCode, output } = await cruise(fixture(), legal);
    assert.equal(exitCode, 0, output);
    assert.match(output, /no dependency violations/);
  });

  it('fails deliberately bad imports, naming each rule they break', async () => {
    const { exitCode, output } = await cruise(fixture(), {
      ...legal,
      // The QEMU stage reaching into the engine's internals, the CLI past the public API, a stage calling a flow.
      'src/qemu/process.ts': "import { runStep } from '../engine/step.js';\nexport const boot = runStep;\n",
      'src/cli/build-command.ts': "import { plan } from '../plan/plan.js';\nexport const command = plan;\n",
      'src/kernel/kernel-build.ts': "import { build } from '../api/build.js';\nexport const kernel = build;\n",
      // A stage using another stage's internals (the flows may).
      'src/qemu/outcome.ts': 'export const outcomeOf = 1;\n',
      'src/aws/push-ami.ts': "import { outcomeOf } from '../qemu/outcome.js';\nexport const push = outcomeOf;\n",
      // The Docker client outside the engine.
      'src/go/go-build.ts': "import Docker from 'dockerode';\nexport const go = Docker;\n",
      // A cycle through a type-only import.
      'src/outputs/table.ts': "import type { Manifest } from '../artifacts/manifest.js';\nexport type Table = Manifest;\nexport const table = 1;\n",
      'src/artifacts/manifest.ts': "import { table } from '../outputs/table.js';\nexport interface Manifest { n: number }\nexport const manifest = table;\n",
    });
    assert.notEqual(exitCode, 0, output);
    for (const rule of ['dockerode-only-in-engine', 'engine-only-through-its-interface', 'pure-stages-without-engine', 'cli-uses-the-public-api', 'stages-do-not-import-flows', 'no-stage-internals', 'no-cycles']) {
      assert.match(output, new RegExp(`error ${rule}:`), `${rule} not reported:\n${output}`);
    }
    assert.match(output, /src\/qemu\/process\.ts → src\/engine\/step\.ts/);
  });
});
