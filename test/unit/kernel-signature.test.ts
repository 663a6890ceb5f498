import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { createCleartextMessage, generateKey, readKey, readPrivateKey, sign, type PrivateKey, type PublicKey } from 'openpgp';
import { isGopid1Error } from '../../src/errors.js';
import { AUTOSIGNER_FINGERPRINT, trustedKeys, verifiedSums } from '../../src/kernel/signature.js';

const sums = 'a'.repeat(64) + '  linux-6.99.1.tar.xz\n' + 'b'.repeat(64) + '  linux-6.99.2.tar.xz';
const refused = (pattern: RegExp) => (error: unknown) => isGopid1Error(error) && error.code === 'KERNEL_SOURCE' && pattern.test(error.message) && /--kernel-sha256/.test(error.hint ?? '');

async function keyPair(name: string): Promise<{ privateKey: PrivateKey; publicKey: PublicKey; armored: string }> {
  const { privateKey, publicKey } = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name, email: `${name}@example.org` }], format: 'armored' });
  return { privateKey: await readPrivateKey({ armoredKey: privateKey }), publicKey: await readKey({ armoredKey: publicKey }), armored: publicKey };
}

async function clearsign(text: string, key: PrivateKey): Promise<string> {
  return sign({ message: await createCleartextMessage({ text }), signingKeys: key });
}

describe('kernel.org checksums: signed by a trusted key, or refused', () => {
  let mirror: Awaited<ReturnType<typeof keyPair>>;
  let stranger: Awaited<ReturnType<typeof keyPair>>;
  before(async () => {
    [mirror, stranger] = await Promise.all([keyPair('mirror'), keyPair('stranger')]);
  });

  it('ships the Kernel.org checksum autosigner\'s key, its fingerprint pinned', async () => {
    const keys = await trustedKeys({});
    assert.deepEqual(keys.map((key) => key.getFingerprint().toUpperCase()), [AUTOSIGNER_FINGERPRINT]);
    assert.deepEqual(keys[0]?.getUserIDs(), ['Kernel.org checksum autosigner <autosigner@kernel.org>']);
  });

  it('returns the signed text alone when the signature verifies', async () => {
    const signed = await clearsign(sums, mirror.privateKey);
    assert.equal(await verifiedSums(signed, [mirror.publicKey], 'https://m/v6.x/sha256sums.asc'), sums);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gopid1-keys-'));
    writeFileSync(path.join(dir, 'keys.asc'), mirror.armored);
    const keys = await trustedKeys({ GOPID1_KERNEL_ORG_KEYS: path.join(dir, 'keys.asc') });
    assert.equal(await verifiedSums(signed, keys, 'u'), sums, 'GOPID1_KERNEL_ORG_KEYS replaces the shipped key');
  });

  it('refuses a list signed by another key, changed after signing, or not signed at all', async () => {
    const signed = await clearsign(sums, mirror.privateKey);
    await assert.rejects(verifiedSums(await clearsign(sums, stranger.privateKey), [mirror.publicKey], 'https://m/sums'), refused(/^kernel\.org's checksum list https:\/\/m\/sums has no valid signature by mirror <mirror@example\.org> \(signed by key [0-9A-F]{16}\)/));
    await assert.rejects(verifiedSums(signed.replace('a'.repeat(64), 'c'.repeat(64)), [mirror.publicKey], 'u'), refused(/has no valid signature/));
    await assert.rejects(verifiedSums(sums, [mirror.publicKey], 'u'), refused(/is not signed/));
    await assert.rejects(verifiedSums(signed, await trustedKeys({}), 'u'), refused(/no valid signature by Kernel\.org checksum autosigner/));
  });
});
