import type { BuildPlan } from '../plan/plan.js';
import type { StageContext } from '../stage.js';
import { produceAwsDisk, produceConverted, produceRawDisk } from './disk.js';
import { produceIso } from './iso.js';
import type { MachineFiles, OutputProduct } from './product.js';
import { outputFormat, type OutputName } from './table.js';
import { produceUki } from './uki.js';

/** Makes one format's files from the machine (kernel + initramfs) the build made. */
export type Producer = (context: StageContext, plan: BuildPlan, machine: MachineFiles) => Promise<OutputProduct>;

/** A format converted from the raw disk, written under the file name its table entry gives. */
function converted(name: 'qcow2' | 'vmdk' | 'vhd' | 'gcp'): Producer {
  return (context, plan, machine) => produceConverted(context, plan, machine, name, outputFormat(name).file(plan.name));
}

/**
 * The producer of each format in the output table (outputs/table.ts), by name: a format without one does not
 * compile. Kept apart from the table so that planning (which reads the table) never loads the builders.
 */
export const PRODUCERS: { readonly [name in OutputName]: Producer } = {
  iso: (context, plan, machine) => produceIso(context, plan, machine, { uefi: false }),
  'iso-uefi': (context, plan, machine) => produceIso(context, plan, machine, { uefi: true }),
  raw: produceRawDisk,
  qcow2: converted('qcow2'),
  vmdk: converted('vmdk'),
  vhd: converted('vhd'),
  gcp: converted('gcp'),
  aws: produceAwsDisk,
  uki: produceUki,
};
