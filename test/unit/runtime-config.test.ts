import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isGopid1Error } from '../../src/errors.js';
import { envBlob, parseEnvAssignment, parseEnvFile } from '../../src/plan/env.js';
import { fwCfgItems, MAX_SECRET_BYTES, runtimeConfig, userDataText } from '../../src/qemu/run-config.js';
import { httpAnswer, metadataService, respond, sessionToken } from '../../src/qemu/metadata.js';
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

describe('run-time configuration: instance user-data and the emulated metadata service', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-userdata-'));

  it('writes #gopid1, KEY=VALUE lines and secret:NAME=BASE64 lines; refuses a value that spans lines', async () => {
    writeFileSync(path.join(dir, 'token'), 's3cret\n');
    const text = await userDataText({ env: [['LOG', 'debug'], ['GREETING', 'Grüße = hallo']], secrets: [{ name: 'api-token', file: path.join(dir, 'token') }] });
    assert.equal(text, `#gopid1\nLOG=debug\nGREETING=Grüße = hallo\nsecret:api-token=${Buffer.from('s3cret\n').toString('base64')}\n`);
    await assert.rejects(userDataText({ env: [['A', 'two\nlines']], secrets: [] }), badInput(/the value of A spans lines/));
  });

  it('answers as IMDSv2: a token from PUT, user-data only with it', () => {
    const userData = () => '#gopid1\nA=1\n';
    const token = sessionToken('/run/user-data');
    assert.equal(token, sessionToken('/run/user-data'), 'every connection hands out the same token');
    assert.deepEqual(respond('PUT /latest/api/token HTTP/1.0\r\nX-aws-ec2-metadata-token-ttl-seconds: 60', 'aws', userData, token), { status: 200, reason: 'OK', body: token });
    assert.equal(respond('PUT /latest/api/token HTTP/1.0\r\nHost: x', 'aws', userData, token).status, 400);
    assert.deepEqual(respond(`GET /latest/user-data HTTP/1.0\r\nX-aws-ec2-metadata-token: ${token}`, 'aws', userData, token), { status: 200, reason: 'OK', body: '#gopid1\nA=1\n' });
    assert.equal(respond('GET /latest/user-data HTTP/1.0\r\nX-aws-ec2-metadata-token: other', 'aws', userData, token).status, 401, 'IMDSv1 (no token) is refused');
    assert.equal(respond('GET /latest/meta-data/ami-id HTTP/1.0', 'aws', userData, token).status, 404);
  });

  it('answers as Compute Engine\'s metadata server: Metadata-Flavor: Google or 403', () => {
    const userData = () => 'x';
    assert.deepEqual(respond('GET /computeMetadata/v1/instance/attributes/user-data HTTP/1.0\r\nmetadata-flavor: Google', 'gcp', userData, ''), { status: 200, reason: 'OK', body: 'x' });
    assert.equal(respond('GET /computeMetadata/v1/instance/attributes/user-data HTTP/1.0', 'gcp', userData, '').status, 403);
    assert.equal(respond('PUT /latest/api/token HTTP/1.0\r\nX-aws-ec2-metadata-token-ttl-seconds: 60', 'gcp', userData, '').status, 404);
    assert.equal(httpAnswer({ status: 200, reason: 'OK', body: 'ü' }), 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nü');
  });

  it('moves the guest network to 169.254.169.0/24 and runs the responder for 169.254.169.254:80, instead of fw_cfg items', async () => {
    const service = await metadataService('aws', { env: [['A', '1']], secrets: [] }, dir);
    assert.deepEqual(service.fwCfg, [{ name: 'opt/gopid1/metadata', file: path.join(dir, 'metadata') }]);
    assert.equal(readFileSync(path.join(dir, 'user-data'), 'utf8'), '#gopid1\nA=1\n');
    assert.equal(statSync(path.join(dir, 'user-data')).mode & 0o777, 0o600);
    assert.match(service.netdev, /^,net=169\.254\.169\.0\/24,guestfwd=tcp:169\.254\.169\.254:80-cmd:'[^']*node[^']*' '[^']*metadata-responder\.js' 'aws' '[^']*user-data'$/);
    assert.match(qemuArgs({ media: { kind: 'direct', kernel: 'k', initrd: 'i', cmdline: '' }, memoryMiB: 128, accel: 'tcg', net: { forwards: [], netdev: service.netdev } }).join(' '), /-netdev user,id=net0,net=169\.254\.169\.0\/24,guestfwd=/);
  });
});
