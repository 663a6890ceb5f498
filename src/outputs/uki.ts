import { artifactRecord, builderRecord } from '../artifacts/manifest.js';
import { buildUki, type UkiBuildResult } from '../uki/uki-build.js';
import type { BuildPlan } from '../plan/plan.js';
import type { StageContext } from '../stage.js';
import type { MachineFiles, OutputProduct } from './product.js';
import { ukiFileName } from './names.js';

/** The machine's Unified Kernel Image, made on first use: `uki` commits it, a disk booted by it (--boot uki) reads it. */
export function ukiOnce(context: StageContext, plan: BuildPlan, machine: Pick<MachineFiles, 'bzImage' | 'initramfs'>): () => Promise<UkiBuildResult> {
  let made: Promise<UkiBuildResult> | undefined;
  return () => (made ??= buildUki(context, { name: plan.name, file: ukiFileName(plan.name), arch: plan.arch, bzImage: machine.bzImage, initramfs: machine.initramfs, cmdline: plan.runtime.cmdline }));
}

/** The `uki` format: systemd-stub, the kernel, the initramfs and the command line in one EFI application. */
export async function produceUki(context: StageContext, plan: BuildPlan, machine: MachineFiles): Promise<OutputProduct> {
  const uki = await machine.uki();
  return {
    files: [uki.file],
    artifacts: { uki: { ...(await artifactRecord(context.out.staging, uki.file)), firmware: ['uefi'], cmdline: plan.runtime.cmdline } },
    sections: { uki: { builder: builderRecord(uki.builder) } },
    durationMs: uki.durationMs,
  };
}
