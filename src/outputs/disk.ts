import { artifactRecord, builderRecord } from '../artifacts/manifest.js';
import { buildDisk, type DiskBuildResult } from '../disk/build.js';
import { convertDisk, type ConversionTarget } from '../disk/convert.js';
import type { BuildPlan } from '../plan/plan.js';
import type { StageContext } from '../stage.js';
import type { MachineFiles, OutputProduct } from './product.js';

/** The raw disk of a machine, made on first use: `raw` commits it, the converted formats read it. */
export function diskOnce(context: StageContext, plan: BuildPlan, machine: Omit<MachineFiles, 'disk'>, file: string): () => Promise<DiskBuildResult> {
  let made: Promise<DiskBuildResult> | undefined;
  return () =>
    (made ??= buildDisk(context, {
      name: plan.name,
      file,
      bzImage: machine.bzImage,
      initramfs: machine.initramfs,
      cmdline: plan.runtime.cmdline,
      menuTimeoutSeconds: plan.runtime.menuTimeoutSeconds,
      sourceDateEpoch: plan.sourceDateEpoch,
    }));
}

function diskSection(disk: DiskBuildResult, plan: BuildPlan): OutputProduct['sections'] {
  return { disk: { builder: builderRecord(disk.builder), menuTimeoutSeconds: plan.runtime.menuTimeoutSeconds } };
}

/** The `raw` format: one GPT disk that boots under BIOS and UEFI, GRUB on both paths. */
export async function produceRawDisk(context: StageContext, plan: BuildPlan, machine: MachineFiles): Promise<OutputProduct> {
  const disk = await machine.disk();
  return {
    files: [disk.file],
    artifacts: { raw: { ...(await artifactRecord(context.out.staging, disk.file)), partitioning: 'gpt', firmware: ['bios', 'uefi'], diskGuid: disk.diskGuid } },
    sections: diskSection(disk, plan),
    durationMs: disk.durationMs,
  };
}

/** qcow2, vmdk, vhd and gcp: the raw disk converted, with the size of the disk it holds. */
export async function produceConverted(context: StageContext, plan: BuildPlan, machine: MachineFiles, target: ConversionTarget, file: string): Promise<OutputProduct> {
  const disk = await machine.disk();
  const converted = await convertDisk(context, { target, disk: context.out.staged(disk.file), file, seed: disk.diskGuid, sourceDateEpoch: plan.sourceDateEpoch });
  return {
    files: [converted.file],
    artifacts: { [target]: { ...(await artifactRecord(context.out.staging, converted.file)), diskBytes: disk.bytes } },
    sections: diskSection(disk, plan),
    durationMs: converted.durationMs,
  };
}
