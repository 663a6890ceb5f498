#!/usr/bin/env node
/**
 * The Docker CLI plugin's entry (docker-plugin.ts): the metadata call, or gopid1's CLI with the docker CLI's global
 * options turned into the environment gopid1 reads.
 */
import { PLUGIN_METADATA, pluginInvocation } from './docker-plugin-command.js';

const invocation = pluginInvocation(process.argv.slice(2));
if ('metadata' in invocation) {
  process.stdout.write(`${JSON.stringify(PLUGIN_METADATA)}\n`);
} else {
  Object.assign(process.env, invocation.env);
  process.argv = [process.argv[0] ?? 'node', 'gopid1', ...invocation.args];
  await import('./main.js');
}
