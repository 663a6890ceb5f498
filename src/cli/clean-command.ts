import type { Command } from 'commander';
import { clean } from '../index.js';
import { globalFlags, type CommandContext } from './context.js';
import { outputMode } from './output.js';

export function registerClean(program: Command, _context: CommandContext): void {
  program
    .command('clean')
    .description('remove containers and volumes gopid1 runs left behind (e.g. after kill -9)')
    .option('--cache', 'also empty the artifact cache and the Go module cache volume')
    .option('--images', 'also remove the builder images')
    .action(async (flags: { cache?: boolean; images?: boolean }, command: Command) => {
      const result = await clean({ cache: flags.cache ?? false, images: flags.images ?? false });
      if (outputMode(globalFlags(command)) === 'json') {
        process.stdout.write(`${JSON.stringify({ ok: true, ...result }, null, 2)}\n`);
        return;
      }
      const parts = [`${result.containers} container(s)`, `${result.volumes} volume(s)`, `${result.leftovers.length} leftover file(s) of dead runs`];
      if (flags.images) parts.push(`${result.images} image(s)`);
      const live = result.skippedLive > 0 ? `; left ${result.skippedLive} of gopid1 runs still going on this host` : '';
      process.stdout.write(`removed ${parts.join(', ')}${result.cacheDir ? `; emptied ${result.cacheDir}` : ''}${live}\n`);
    });
}
