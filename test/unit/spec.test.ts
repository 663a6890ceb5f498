import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isGopid1Error } from '../../src/errors.js';
import { findSpec, readSpec, specRecord } from '../../src/plan/spec-file.js';
import { SPEC_SCHEMA } from '../../src/plan/spec-schema.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-spec-'));
let count = 0;
function specFile(name: string, text: string): string {
  const sub = path.join(dir, String(count++));
  mkdirSync(sub);
  writeFileSync(path.join(sub, name), text);
  return path.join(sub, name);
}
const refused = (pattern: RegExp) => (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && pattern.test(error.message) && /gopid1 schema/.test(error.hint ?? '');

describe('machine specs: gopid1.yaml, gopid1.json, a build\'s manifest', () => {
  it('reads YAML and JSON with the API\'s keys, paths relative to the spec\'s directory', async () => {
    const yaml = specFile('gopid1.yaml', 'init: supervise\nrestart: on-failure\nformats: [raw, iso]\nkernelFragments: [extra.config]\nkernelSource: ../linux.tar.xz\ndataDiskBytes: 1073741824\n');
    assert.deepEqual(await readSpec(yaml, '/app'), {
      init: 'supervise',
      restart: 'on-failure',
      formats: ['raw', 'iso'],
      kernelFragments: [path.join(path.dirname(yaml), 'extra.config')],
      kernelSource: path.join(path.dirname(yaml), '..', 'linux.tar.xz'),
      dataDiskBytes: 1073741824,
    });
    assert.deepEqual(await readSpec(specFile('gopid1.json', '{"net": true, "kernelSource": "debian:bookworm"}'), '/app'), { net: true, kernelSource: 'debian:bookworm' });
    assert.deepEqual(await readSpec(specFile('gopid1.yaml', '# nothing yet\n'), '/app'), {}, 'an empty spec is no options');
  });

  it('refuses unknown keys and wrong types, naming each key and what it may be', async () => {
    const bad = specFile('gopid1.yaml', 'restart: sometimes\nbogus: 1\nnet: "yes"\nformats: [iso, floppy]\nuser: root\n');
    for (const problem of [/bogus is not a key of a spec/, /restart must be one of no, on-failure, always/, /net must be boolean/, /formats\.1 must be one of iso, iso-uefi, /, /user must match pattern/]) {
      await assert.rejects(readSpec(bad, '/app'), refused(problem), String(problem));
    }
    await assert.rejects(readSpec(specFile('gopid1.yaml', 'app: elsewhere\n'), '/app'), refused(/app is not a key of a spec/));
    await assert.rejects(readSpec(specFile('gopid1.yaml', '- a list\n'), '/app'), refused(/the spec must be object/));
    await assert.rejects(readSpec(specFile('gopid1.yaml', 'net: [\n'), '/app'), (error: unknown) => isGopid1Error(error) && /is not YAML/.test(error.message));
    await assert.rejects(readSpec(specFile('gopid1.json', '{"net": tru}'), '/app'), (error: unknown) => isGopid1Error(error) && /is not JSON/.test(error.message));
  });

  it('records what a build was given, paths relative to the app, and reads it back from the manifest against the app', async () => {
    const record = specRecord({ app: '/src/app', out: '/tmp/out', force: true, cache: false, init: 'supervise', kernelFragments: ['/src/app/k/extra.config'], kernelSource: '/src/linux.tar.xz', name: undefined }, '/src/app');
    assert.deepEqual(record, { init: 'supervise', kernelFragments: ['k/extra.config'], kernelSource: '../linux.tar.xz' });
    const manifest = specFile('manifest.json', JSON.stringify({ schema: 1, artifacts: {}, spec: record }));
    assert.deepEqual(await readSpec(manifest, '/src/app'), { init: 'supervise', kernelFragments: ['/src/app/k/extra.config'], kernelSource: '/src/linux.tar.xz' });
    await assert.rejects(readSpec(specFile('manifest.json', JSON.stringify({ schema: 1, artifacts: {} })), '/app'), (error: unknown) => isGopid1Error(error) && /recorded no spec/.test(error.message));
  });

  it('finds gopid1.yaml, .yml or .json in the app directory; the schema has every spec key', async () => {
    const file = specFile('gopid1.yml', 'net: true\n');
    assert.equal(await findSpec(path.dirname(file)), file);
    assert.equal(await findSpec(dir), undefined);
    assert.ok(!('app' in SPEC_SCHEMA.properties) && !('out' in SPEC_SCHEMA.properties) && 'dataDiskBytes' in SPEC_SCHEMA.properties);
  });
});
