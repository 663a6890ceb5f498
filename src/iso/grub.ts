import { packFiles, type StepInput } from '../engine/engine.js';

/**
 * GRUB configuration of a gopid1 ISO. The early config is built into the GRUB images and finds this medium
 * by a marker file, so a machine with other disks still boots the right /boot/grub/grub.cfg.
 */

/** Modules built into the BIOS El Torito image: read the CD (or the USB stick), find it, load Linux. */
export const BIOS_MODULES = ['biosdisk', 'iso9660', 'part_msdos', 'search', 'search_fs_file', 'configfile', 'normal', 'linux', 'serial', 'terminal'];
/** Modules built into BOOTX64.EFI; efi_gop gives a kernel with an EFI framebuffer a screen on real hardware. */
export const EFI_MODULES = ['iso9660', 'part_msdos', 'part_gpt', 'fat', 'search', 'search_fs_file', 'configfile', 'normal', 'linux', 'serial', 'terminal', 'efi_gop'];

export function earlyConfig(marker: string): string {
  return [`search --no-floppy --set=root --file /boot/grub/${marker}`, 'set prefix=($root)/boot/grub', ''].join('\n');
}

function quoteGrub(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The kernel command line as GRUB words, each single-quoted so GRUB's parser leaves `$`, `;`, `#` and the like
 * alone. GRUB re-escapes double quotes when it hands arguments to Linux, so parameters that need them (values
 * with spaces) cannot pass through it unchanged and are refused.
 */
export function grubKernelArguments(cmdline: string): string {
  // GRUB escapes these with a backslash when it builds Linux's command line.
  if (/["'\\]/.test(cmdline)) {
    throw new RangeError('kernel parameters with quotes or backslashes cannot pass through GRUB unchanged');
  }
  return cmdline.split(/\s+/).filter(Boolean).map(quoteGrub).join(' ');
}

/**
 * grub.cfg: one entry booting the kernel with `cmdline`. On x86 GRUB talks on the first serial port and the screen;
 * on arm64 (`serial: false`) there is no 8250 UART for GRUB's serial driver, and the firmware's console, which is
 * the serial port on a machine without a screen, is GRUB's.
 */
export function grubConfig(options: { name: string; cmdline: string; menuTimeoutSeconds: number; initramfsFile: string; kernelFile?: string; serial?: boolean }): string {
  if (!Number.isInteger(options.menuTimeoutSeconds) || options.menuTimeoutSeconds < 0) {
    throw new RangeError(`menu timeout must be a whole number of seconds, not ${options.menuTimeoutSeconds}`);
  }
  if (/[\n\r]/.test(options.cmdline)) throw new RangeError('the kernel command line must be one line');
  const serial = options.serial ?? true;
  return [
    ...(serial ? ['serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1', 'terminal_input serial console', 'terminal_output serial console'] : ['terminal_input console', 'terminal_output console']),
    `set timeout=${options.menuTimeoutSeconds}`,
    'set default=0',
    `menuentry ${quoteGrub(options.name)} {`,
    `  linux /boot/${options.kernelFile ?? 'bzImage'} ${grubKernelArguments(options.cmdline)}`,
    `  initrd /boot/${options.initramfsFile}`,
    '}',
    '',
  ].join('\n');
}

/**
 * What a GRUB-booted medium's builder step reads in /iso/in: the kernel (always in/bzImage; `kernelFile` is its name
 * on the medium), the initramfs, grub.cfg with one entry, and the early config that finds the medium by `marker`.
 */
export function grubBootInput(
  files: { kernel: Buffer; initramfs: Buffer; initramfsFile: string },
  entry: { name: string; cmdline: string; menuTimeoutSeconds: number; kernelFile?: string; serial?: boolean },
  marker: string,
): StepInput {
  const { kernel, initramfs, initramfsFile } = files;
  return {
    path: '/iso',
    archive: () =>
      packFiles([
        { name: 'in/bzImage', data: kernel },
        { name: `in/${initramfsFile}`, data: initramfs },
        { name: 'in/grub.cfg', data: grubConfig({ ...entry, initramfsFile }) },
        { name: 'in/early.cfg', data: earlyConfig(marker) },
      ]),
  };
}
