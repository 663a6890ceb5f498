/** The file names of a machine's formats in the out dir. */

/** A file name for the machine: its name with anything unusual replaced, then the extension. */
export function machineFileName(name: string, extension: string): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return `${base === '' ? 'gopid1' : base}${extension}`;
}

export function isoFileName(name: string): string {
  return machineFileName(name, '.iso');
}

/** The raw disk's file name, also where the converted formats read it in staging. */
export function rawFileName(name: string): string {
  return machineFileName(name, '.raw');
}

/** The EC2 disk's file name: a raw disk, named apart from `raw` (both may be built). */
export function awsFileName(name: string): string {
  return machineFileName(name, '.aws.raw');
}

/** The Unified Kernel Image's file name: an EFI application. */
export function ukiFileName(name: string): string {
  return machineFileName(name, '.efi');
}

/** The data disk's file name (--data-disk): an ext4 filesystem on a whole disk, raw. */
export function dataDiskFileName(name: string): string {
  return machineFileName(name, '.data.img');
}
