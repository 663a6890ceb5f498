import type { Command } from 'commander';
import { SPEC_SCHEMA } from '../index.js';
import type { CommandContext } from './context.js';

/** `gopid1 schema`: the JSON Schema of a machine spec, for editors (e.g. a yaml-language-server modeline). */
export function registerSchema(program: Command, _context: CommandContext): void {
  program
    .command('schema')
    .description('print the JSON Schema of a machine spec (gopid1.yaml, gopid1.json), so editors can check one as it is written')
    .action(() => {
      process.stdout.write(`${JSON.stringify(SPEC_SCHEMA, null, 2)}\n`);
    });
}
