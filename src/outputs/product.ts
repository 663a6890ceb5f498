import type { Manifest } from '../artifacts/manifest.js';
import type { DiskBuildResult } from '../disk/disk-build.js';
import type { UkiBuildResult } from '../uki/uki-build.js';

/** The machine every format is made from: files in the out dir's staging directory. */
export interface MachineFiles {
  bzImage: string;
  initramfs: string;
  /** The raw GPT disk, made once on first use (by `raw`, or by a format converted from it). */
  disk: () => Promise<DiskBuildResult>;
  /** The Unified Kernel Image, made once on first use (by `uki`, or by a disk that boots from it). */
  uki: () => Promise<UkiBuildResult>;
}

/** What a format's producer made: files in staging, and what it adds to manifest.json. */
export interface OutputProduct {
  /** File names in staging, committed to the out dir with the build. */
  files: string[];
  /** Records under manifest.artifacts. */
  artifacts: Partial<Manifest['artifacts']>;
  /** Top-level manifest sections (how it was made: builder, settings). */
  sections: Partial<Pick<Manifest, 'iso' | 'disk' | 'uki'>>;
  durationMs: number;
}
