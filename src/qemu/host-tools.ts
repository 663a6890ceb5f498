import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from '../errors.js';
import type { Arch } from '../plan/vocabulary.js';

/** Finding what a boot runs on the host: QEMU, its firmware (qboot, OVMF, AAVMF), and programs on PATH. */

/**
 * qboot, the minimal firmware QEMU ships for booting a kernel directly: about 0.2 s faster than SeaBIOS under
 * software emulation (docs/PERFORMANCE.md). $GOPID1_QBOOT, else QEMU's own copy; undefined (SeaBIOS) without one.
 */
export async function findQboot(): Promise<string | undefined> {
  // GOPID1_QBOOT= (empty) asks for SeaBIOS.
  if (process.env.GOPID1_QBOOT === '') return undefined;
  return firstAccessible(process.env.GOPID1_QBOOT !== undefined ? [process.env.GOPID1_QBOOT] : ['/usr/share/qemu/qboot.rom', '/usr/share/seabios/qboot.rom'], constants.R_OK);
}

/** Each architecture's UEFI firmware: the variable that overrides it, Debian's copies, and the package they come in. */
const UEFI_FIRMWARE: { readonly [arch in Arch]: { variable: string; candidates: string[]; what: string; install: string } } = {
  amd64: { variable: 'GOPID1_OVMF', candidates: ['/usr/share/ovmf/OVMF.fd', '/usr/share/qemu/OVMF.fd'], what: 'UEFI firmware (OVMF)', install: 'ovmf' },
  // AAVMF: edk2's ArmVirtQemu, for QEMU's virt machine.
  arm64: { variable: 'GOPID1_AAVMF', candidates: ['/usr/share/qemu-efi-aarch64/QEMU_EFI.fd', '/usr/share/AAVMF/AAVMF_CODE.fd'], what: 'arm64 UEFI firmware (AAVMF)', install: 'qemu-efi-aarch64' },
};

/** The UEFI firmware of an architecture: $GOPID1_OVMF or $GOPID1_AAVMF, else Debian's copy. */
export async function findUefiFirmware(arch: Arch): Promise<string> {
  const { variable, what, install } = UEFI_FIRMWARE[arch];
  const candidates = process.env[variable] ? [process.env[variable] as string] : UEFI_FIRMWARE[arch].candidates;
  const found = await firstAccessible(candidates, constants.R_OK);
  if (found) return found;
  throw new Gopid1Error('QEMU_MISSING', `no ${what} for QEMU (looked for ${candidates.join(', ')})`, {
    hint: `Install it (Debian: sudo apt-get install ${install}, or \`make setup\`), or set ${variable} to its .fd file.`,
  });
}

/** `name` itself when it is a path, else the first executable of that name on PATH. */
export async function findOnPath(name: string): Promise<string | undefined> {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name));
  return firstAccessible(candidates, constants.X_OK);
}

/** The first of `candidates` this process may access with `mode` (R_OK, X_OK), or undefined. */
async function firstAccessible(candidates: string[], mode: number): Promise<string | undefined> {
  for (const candidate of candidates) {
    try {
      await access(candidate, mode);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The QEMU that runs an architecture's machines: $GOPID1_QEMU (amd64) or $GOPID1_QEMU_ARM64, else the system's on PATH. */
export async function findQemu(arch: Arch = 'amd64'): Promise<string> {
  const [variable, binary, debianPackage] = arch === 'arm64' ? ['GOPID1_QEMU_ARM64', 'qemu-system-aarch64', 'qemu-system-arm'] : ['GOPID1_QEMU', 'qemu-system-x86_64', 'qemu-system-x86'];
  const wanted = process.env[variable] ?? binary;
  const found = await findOnPath(wanted);
  if (found) return found;
  throw new Gopid1Error('QEMU_MISSING', `${wanted} is not installed`, {
    hint: `Install QEMU (Debian: sudo apt-get install ${debianPackage}, or \`make setup\` in the gopid1 checkout), or set ${variable} to its path.`,
  });
}
