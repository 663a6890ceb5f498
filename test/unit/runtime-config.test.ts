import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isGopid1Error } from '../../src/errors.js';
import { envBlob, parseEnvAssignment, parseEnvFile } from '../../src/plan/env.js';
import { fwCfgItems, MAX_SECRET_BYTES, runtimeConfig } from '../../src/qemu/config.js';
import { qemuArgs } from '../../src/qemu/command.js';

const badInput = (pattern: RegExp) => (error: unknown) => isGopid1Error(error) && error.code === 'BAD_INPUT' && pattern.test(error.message) && Boolean(error.hint);

describe('run-time configuration: environment and secrets through fw_cfg', () => {
  it('reads KEY=VALUE, keeping = and spaces in the value, and refuses a bad name', () => {
    assert.deepEqual(parseEnvAssignment('URL=postgres://u@h/db?x=1', '--env'), ['URL', 'postgres://u@h/db?x=1']);
    assert.deepEqual(parseEnvAssignment('GREETING= Grüße, Welt ', '--env'), ['GREETING', ' Grüße, Welt ']);
    assert.deepEqual(parseEnvAssignment('EMPTY=', '--env'), ['EMPTY', '']);
    for (const bad of ['NOVALUE', '=x', '1X=y', 'A-B=c', 'A B=c']) assert.throws(() => parseEnvAssignment(bad, '--env'), badInput(/is not KEY=VALUE/), bad);
    assert.throws(() => parseEnvAssignment('A=b\0c', '--env'), badInput(/holds a NUL byte/));
  });

  it('reads an env file as docker does: comments, blank lines, names taken from the host, values as written', () => {
    const text = '# settings\n\nLOG=debug\r\nQUOTED="kept as is"\n  INDENTED=yes\nFROM_HOST\nMISSING_ON_HOST\n';
    assert.deepEqual(parseEnvFile(text, 'app.env', { FROM_HOST: 'h' }), [
      ['LOG', 'debug'],
      ['QUOTED', '"kept as is"'],
      ['INDENTED', 'yes'],
      ['FROM_HOST', 'h'],
    ]);
    assert.throws(() => parseEnvFile('OK=1\nnot a line\n', 'app.env', {}), badInput(/app\.env line 2 "not a line" is not KEY=VALUE or a variable's name/));
    assert.throws(() => parseEnvFile('9=x\n', 'app.env', {}), badInput(/app\.env line 1/));
  });

  it('carries entries NUL-separated, so a value may hold newlines', () => {
    assert.equal(envBlob([['A', '1'], ['B', 'two\nlines']]).toString(), 'A=1\0B=two\nlines\0');
  });

  it('gathers --env-file then --env, checks each secret, and hands QEMU one fw_cfg file per item', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-config-'));
    writeFileSync(path.join(dir, 'app.env'), 'LOG=info\nPORT=8080\n');
    writeFileSync(path.join(dir, 'token'), 's3cret');
    const config = await runtimeConfig({ envFiles: [path.join(dir, 'app.env')], env: ['LOG=debug'], secrets: [`api-token=${path.join(dir, 'token')}`] }, {});
    assert.ok(config);
    assert.deepEqual(config.env, [['LOG', 'info'], ['PORT', '8080'], ['LOG', 'debug']]);
    const items = await fwCfgItems(config, dir);
    assert.deepEqual(items, [
      { name: 'opt/gopid1/env', file: path.join(dir, 'env') },
      { name: 'opt/gopid1/secret/api-token', file: path.join(dir, 'token') },
    ]);
    assert.equal(readFileSync(path.join(dir, 'env'), 'utf8'), 'LOG=info\0PORT=8080\0LOG=debug\0');
    assert.equal(statSync(path.join(dir, 'env')).mode & 0o777, 0o600);
    const args = qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: 'c' }, memoryMiB: 64, accel: 'tcg', fwCfg: [{ name: 'opt/gopid1/env', file: '/t,1/env' }] });
    assert.equal(args[args.indexOf('-fw_cfg') + 1], 'name=opt/gopid1/env,file=/t,,1/env');
    assert.equal(await runtimeConfig({}, {}), undefined);
  });

  it('refuses a missing, oversized, badly named or repeated secret, and a missing env file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-config-'));
    const big = path.join(dir, 'big');
    writeFileSync(big, Buffer.alloc(MAX_SECRET_BYTES + 1));
    writeFileSync(path.join(dir, 'ok'), 'x');
    await assert.rejects(runtimeConfig({ secrets: [`db=${path.join(dir, 'none')}`] }), badInput(/--secret db: .*none is not a file/));
    await assert.rejects(runtimeConfig({ secrets: [`db=${big}`] }), badInput(/--secret db: .*big is 1048577 bytes, more than the 1048576 a secret may be/));
    await assert.rejects(runtimeConfig({ secrets: ['../x=/etc/hostname'] }), badInput(/is not NAME=FILE/));
    await assert.rejects(runtimeConfig({ secrets: ['justaname'] }), badInput(/is not NAME=FILE/));
    await assert.rejects(runtimeConfig({ secrets: [`a=${path.join(dir, 'ok')}`, `a=${path.join(dir, 'ok')}`] }), badInput(/--secret a is given twice/));
    await assert.rejects(runtimeConfig({ envFiles: [path.join(dir, 'none.env')] }), badInput(/--env-file .*none\.env cannot be read/));
  });
});
