import { INITRAMFS_COMPRESSIONS, KERNEL_COMPRESSIONS, type InitramfsCompression, type KernelCompression, type KernelConfigBase } from '../plan/vocabulary.js';

/** The kernel option that unpacks this initramfs compression. */
export function rdOption(compression: InitramfsCompression): string {
  return `RD_${compression.toUpperCase()}`;
}

/** The initramfs decompressor a kernel needs: the chosen one, and for the minimal base none of the others. */
export function decompressorFragment(compression: InitramfsCompression, base: KernelConfigBase): string {
  const lines = INITRAMFS_COMPRESSIONS.flatMap((method) => {
    if (method === compression) return [`CONFIG_${rdOption(method)}=y`];
    return base === 'minimal' ? [`# CONFIG_${rdOption(method)} is not set`] : [];
  });
  return `${lines.join('\n')}\n`;
}

/** bzImage compression is a Kconfig choice: the chosen one on, the others (which the base may have asked for) explicitly off. */
export function compressionFragment(compression: KernelCompression): string {
  const lines = KERNEL_COMPRESSIONS.map((method) => (method === compression ? `CONFIG_KERNEL_${method.toUpperCase()}=y` : `# CONFIG_KERNEL_${method.toUpperCase()} is not set`));
  return `${lines.join('\n')}\n`;
}
