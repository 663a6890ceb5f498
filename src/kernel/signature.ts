import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readCleartextMessage, readKeys, verify, type PublicKey } from 'openpgp';
import { Gopid1Error } from '../errors.js';
import { packageRoot } from '../paths.js';

/**
 * kernel.org's sha256sums.asc is clearsigned by the Kernel.org checksum autosigner (https://www.kernel.org/signature.html).
 * gopid1 ships that public key (keys/kernel.org-autosigner.asc) and trusts the checksums only once the signature
 * verifies against it, reading them from the signed text alone. openpgp.js does the OpenPGP work: no gpg binary, no
 * keyring on the host.
 */
export const AUTOSIGNER_FINGERPRINT = 'B8868C80BA62A1FFFAF5FDA9632D3A06589DA6B1';
const SHIPPED_KEY = path.join(packageRoot, 'keys', 'kernel.org-autosigner.asc');

/**
 * The keys trusted for sha256sums.asc: those in the file $GOPID1_KERNEL_ORG_KEYS names (armored public keys, for a
 * mirror that signs its own checksums), else the shipped autosigner key, whose fingerprint must be the one pinned here.
 */
export async function trustedKeys(environment: NodeJS.ProcessEnv = process.env): Promise<PublicKey[]> {
  const file = environment.GOPID1_KERNEL_ORG_KEYS || SHIPPED_KEY;
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new Gopid1Error('KERNEL_SOURCE', `cannot read the keys kernel.org's checksums are checked with (${file}): ${error instanceof Error ? error.message : String(error)}`, {
      hint: environment.GOPID1_KERNEL_ORG_KEYS ? 'Point GOPID1_KERNEL_ORG_KEYS at a file of armored public keys, or unset it.' : 'Reinstall gopid1: its keys/ directory is incomplete.',
    });
  });
  const armored = text.slice(Math.max(0, text.indexOf('-----BEGIN PGP PUBLIC KEY BLOCK-----')));
  const keys = await readKeys({ armoredKeys: armored });
  if (file === SHIPPED_KEY && !keys.some((key) => key.getFingerprint().toUpperCase() === AUTOSIGNER_FINGERPRINT)) {
    throw new Gopid1Error('KERNEL_SOURCE', `${file} is not the Kernel.org checksum autosigner's key (${AUTOSIGNER_FINGERPRINT})`, { hint: 'Reinstall gopid1: its shipped key was changed.' });
  }
  return keys;
}

/** The signed text of sha256sums.asc once its signature verifies against `keys`; KERNEL_SOURCE otherwise. */
export async function verifiedSums(armored: string, keys: PublicKey[], url: string): Promise<string> {
  const refuse = (why: string, cause?: unknown): Gopid1Error =>
    new Gopid1Error('KERNEL_SOURCE', `kernel.org's checksum list ${url} ${why}`, {
      hint: 'The list (or the mirror) cannot be trusted, so neither can the tarball. Try again later; or check the tarball yourself and pass its sha256 with --kernel-sha256.',
      ...(cause !== undefined ? { cause } : {}),
    });
  let message;
  try {
    message = await readCleartextMessage({ cleartextMessage: armored });
  } catch (error) {
    throw refuse('is not signed (no OpenPGP signed message)', error);
  }
  const { signatures, data } = await verify({ message, verificationKeys: keys });
  try {
    if (signatures.length === 0) throw new Error('no signature');
    await signatures[0]?.verified;
  } catch (error) {
    const signer = signatures[0]?.keyID.toHex().toUpperCase();
    throw refuse(`has no valid signature by ${keys.map((key) => key.getUserIDs()[0] ?? key.getFingerprint()).join(', ')}${signer ? ` (signed by key ${signer})` : ''}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  return data;
}
