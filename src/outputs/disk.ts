import { copyFile } from 'node:fs/promises';
import { artifactRecord, builderRecord } from '../artifacts/manifest.js';
import { buildDisk, type DiskBuildResult } from '../disk/disk-build.js';
import { convertDisk, type ConversionTarget } from '../disk/convert.js';
import type { BuildPlan } from '../plan/plan.js';
import { ARCH_FACTS, type Firmware } from '../plan/vocabulary.js';
import type { StageContext } from '../stage.js';
import type { MachineFiles, OutputProduct } from './product.js';
import { awsFileName } from './names.js';

/** The raw disk of a machine, made on first use: `raw` commits it, the converted formats read it. */
export function diskOnce(context: StageContext, plan: BuildPlan, machine: Omit<MachineFiles, 'disk'>, file: string): () => Promise<DiskBuildResult> {
  let made: Promise<DiskBuildResult> | undefined;
  const make = async (): Promise<DiskBuildResult> =>
    buildDisk(context, {
      name: plan.name,
      arch: plan.arch,
      file,
      bzImage: machine.bzImage,
      initramfs: machine.initramfs,
      ...(plan.disk.boot === 'uki' ? { uki: context.out.staged((await machine.uki()).file) } : {}),
      cmdline: plan.runtime.cmdline,
      menuTimeoutSeconds: plan.runtime.menuTimeoutSeconds,
      sourceDateEpoch: plan.sourceDateEpoch,
      ...(plan.disk.sizeMiB !== undefined ? { sizeMiB: plan.disk.sizeMiB } : {}),
    });
  return () => (made ??= make());
}

function diskSection(disk: DiskBuildResult, plan: BuildPlan): OutputProduct['sections'] {
  return { disk: { builder: builderRecord(disk.builder), menuTimeoutSeconds: plan.runtime.menuTimeoutSeconds, bytes: disk.bytes, minimumBytes: disk.minimumBytes, boot: plan.disk.boot } };
}

/** What a disk of this plan boots under: GRUB starts it under BIOS and UEFI (UEFI alone where there is no BIOS), a UKI only under UEFI. */
function diskFirmware(plan: BuildPlan): Firmware[] {
  return plan.disk.boot === 'uki' || !ARCH_FACTS[plan.arch].bios ? ['uefi'] : ['bios', 'uefi'];
}

/** The `raw` format: one GPT disk that boots under BIOS and UEFI, GRUB on both paths; or under UEFI from a UKI. */
export async function produceRawDisk(context: StageContext, plan: BuildPlan, machine: MachineFiles): Promise<OutputProduct> {
  const disk = await machine.disk();
  return {
    files: [disk.file],
    artifacts: { raw: { ...(await artifactRecord(context.out.staging, disk.file)), partitioning: 'gpt', firmware: diskFirmware(plan), diskGuid: disk.diskGuid } },
    sections: diskSection(disk, plan),
    durationMs: disk.durationMs,
  };
}

/**
 * The `aws` format: the raw disk under its own name. What sets it up for EC2 is in the kernel and its command line,
 * which the format's needs put there for the whole build (NVMe and ENA drivers, ip=dhcp; the console is on ttyS0).
 */
export async function produceAwsDisk(context: StageContext, plan: BuildPlan, machine: MachineFiles): Promise<OutputProduct> {
  const disk = await machine.disk();
  const file = awsFileName(plan.name);
  const started = Date.now();
  await copyFile(context.out.staged(disk.file), context.out.staged(file));
  return {
    files: [file],
    artifacts: { aws: { ...(await artifactRecord(context.out.staging, file)), partitioning: 'gpt', firmware: diskFirmware(plan), diskGuid: disk.diskGuid } },
    sections: diskSection(disk, plan),
    durationMs: Date.now() - started,
  };
}

/** qcow2, vmdk, vhd and gcp: the raw disk converted, with the size of the disk it holds. */
export async function produceConverted(context: StageContext, plan: BuildPlan, machine: MachineFiles, target: ConversionTarget, file: string): Promise<OutputProduct> {
  const disk = await machine.disk();
  const converted = await convertDisk(context, { target, disk: context.out.staged(disk.file), headBytes: disk.headBytes, file, seed: disk.diskGuid, sourceDateEpoch: plan.sourceDateEpoch });
  return {
    files: [converted.file],
    artifacts: { [target]: { ...(await artifactRecord(context.out.staging, converted.file)), diskBytes: disk.bytes } },
    sections: diskSection(disk, plan),
    durationMs: converted.durationMs,
  };
}
