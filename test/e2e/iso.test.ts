import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Manifest } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { FIRST_BUILD_TIMEOUT_MS, e2ePrerequisites, hello, leftovers, tempDir } from '../helpers/e2e.js';

const skip = e2ePrerequisites();
const MIB = 1024 * 1024;
const BOOT_TIMEOUT = { timeout: 5 * 60_000 };

async function bootIso(iso: string, extra: string[]): Promise<void> {
  const run = await runCli(['boot', '--iso', iso, '--expect', 'Hello from Golang', '--timeout', '180', ...extra]);
  assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
  assert.match(run.stdout, /^Hello from Golang$/m);
}

describe('bootable GRUB ISO, mastered in the ISO builder', { skip }, () => {
  const bios = tempDir('iso-bios');
  const uefi = tempDir('iso-uefi');

  it('`build --iso` writes a BIOS, USB-hybrid hello.iso of at most 3 MiB', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const run = await runCli(['build', hello, '--out', bios, '--iso']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /hello\.iso \(BIOS, USB-hybrid\)\s+[\d,]+/);
    const manifest = JSON.parse(readFileSync(path.join(bios, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.artifacts.iso?.file, 'hello.iso');
    assert.equal(manifest.artifacts.iso?.uefi, false);
    assert.ok((manifest.artifacts.iso?.bytes ?? Infinity) <= 3 * MIB, `ISO is ${manifest.artifacts.iso?.bytes} bytes`);
    assert.ok(manifest.iso?.builder.packages.some((p) => p.startsWith('genisoimage=')));
    assert.ok(!manifest.kernel.fragments.some((f) => f.name === 'efi.config'), 'no EFI in a BIOS-only kernel');
    const file = execFileSync('file', ['-b', path.join(bios, 'hello.iso')]).toString();
    assert.match(file, /ISO 9660 CD-ROM filesystem data/);
    assert.match(file, /DOS\/MBR boot sector/);
    assert.match(file, /'HELLO'/);
    assert.deepEqual(leftovers(), { containers: [], volumes: [] });
  });

  it('boots from the CD-ROM drive under BIOS', BOOT_TIMEOUT, () => bootIso(path.join(bios, 'hello.iso'), []));

  it('`--format iso` is the same build as `--iso`: a byte-identical ISO, and boot --format starts it from the CD-ROM under BIOS', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    const out = tempDir('iso-format');
    const run = await runCli(['build', hello, '--out', out, '--format', 'iso']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(readFileSync(path.join(out, 'hello.iso')).equals(readFileSync(path.join(bios, 'hello.iso'))), 'hello.iso differs between --format iso and --iso');
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual((manifest.plan as { outputs: string[] }).outputs, ['iso']);
    const booted = await runCli(['boot', out, '--format', 'iso', '--expect', 'Hello from Golang', '--timeout', '180']);
    assert.equal(booted.code, 0, booted.stderr);
    assert.doesNotMatch(booted.stderr, /UEFI, /);
    const refused = await runCli(['boot', out, '--format', 'iso-uefi']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /hello in .* was built without the iso-uefi format \[BAD_INPUT\]/);
  });

  it('boots as a disk under BIOS, the way `dd` to a USB stick does', BOOT_TIMEOUT, () => bootIso(path.join(bios, 'hello.iso'), ['--iso-as', 'disk']));

  it('`build --uefi` adds EFI to the kernel and an EFI El Torito entry', { timeout: FIRST_BUILD_TIMEOUT_MS }, async () => {
    // gzip here: the EFI kernel is built anyway, and so GRUB and the kernel are shown to take a gzip initramfs too.
    const run = await runCli(['build', hello, '--out', uefi, '--uefi', '--compress', 'gzip']);
    assert.equal(run.code, 0, run.stderr);
    const manifest = JSON.parse(readFileSync(path.join(uefi, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.artifacts.iso?.uefi, true);
    assert.ok(manifest.kernel.fragments.some((f) => f.name === 'efi.config'));
    const config = readFileSync(path.join(uefi, 'kernel.config'), 'utf8');
    assert.match(config, /^CONFIG_EFI_STUB=y$/m);
    assert.match(config, /^CONFIG_RD_GZIP=y$/m);
    assert.equal(manifest.artifacts.initramfs.file, 'initramfs.cpio.gz');
    assert.match(execFileSync('file', ['-b', path.join(uefi, 'hello.iso')]).toString(), /DOS\/MBR boot sector/);
  });

  it('boots from the CD-ROM drive under UEFI (OVMF)', BOOT_TIMEOUT, () => bootIso(path.join(uefi, 'hello.iso'), ['--uefi']));

  it('boot --format iso-uefi starts it under UEFI, and --format iso under BIOS, as the format table says', BOOT_TIMEOUT, async () => {
    const underUefi = await runCli(['boot', uefi, '--format', 'iso-uefi', '--expect', 'Hello from Golang', '--timeout', '180']);
    assert.equal(underUefi.code, 0, underUefi.stderr);
    assert.match(underUefi.stderr, /UEFI, /);
    const underBios = await runCli(['boot', uefi, '--format', 'iso', '--expect', 'Hello from Golang', '--timeout', '180']);
    assert.equal(underBios.code, 0, underBios.stderr);
    assert.doesNotMatch(underBios.stderr, /UEFI, /);
  });

  it('boots as a disk under UEFI, from its EFI system partition', BOOT_TIMEOUT, () => bootIso(path.join(uefi, 'hello.iso'), ['--uefi', '--iso-as', 'disk']));

  it('the same UEFI ISO still boots under BIOS', BOOT_TIMEOUT, () => bootIso(path.join(uefi, 'hello.iso'), []));

  it('says how to get an ISO when the file is missing', async () => {
    const run = await runCli(['boot', '--iso', path.join(bios, 'nope.iso')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ISO .*nope\.iso does not exist/);
    assert.match(run.stderr, /gopid1 build <app> --iso/);
  });
});
