import { artifactRecord, builderRecord } from '../artifacts/manifest.js';
import { buildIso } from '../iso/iso-build.js';
import type { BuildPlan } from '../plan/plan.js';
import type { StageContext } from '../stage.js';
import type { MachineFiles, OutputProduct } from './product.js';
import { isoFileName } from './names.js';

/** The `iso` and `iso-uefi` formats: GRUB, El Torito, USB-hybrid (arm64: UEFI alone); dated from the app's SOURCE_DATE_EPOCH. */
export async function produceIso(context: StageContext, plan: BuildPlan, machine: MachineFiles, options: { uefi: boolean }): Promise<OutputProduct> {
  const iso = await buildIso(context, {
    name: plan.name,
    file: isoFileName(plan.name),
    bzImage: machine.bzImage,
    initramfs: machine.initramfs,
    cmdline: plan.runtime.cmdline,
    arch: plan.arch,
    uefi: options.uefi,
    menuTimeoutSeconds: plan.runtime.menuTimeoutSeconds,
    sourceDateEpoch: plan.sourceDateEpoch,
  });
  return {
    files: [iso.file],
    artifacts: { iso: { ...(await artifactRecord(context.out.staging, iso.file)), uefi: iso.uefi, firmware: iso.firmware, hybrid: true } },
    sections: { iso: { builder: builderRecord(iso.builder), menuTimeoutSeconds: plan.runtime.menuTimeoutSeconds } },
    durationMs: iso.durationMs,
  };
}
