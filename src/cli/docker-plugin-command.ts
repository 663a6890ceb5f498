import { chmod, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { Gopid1Error, packageRoot, toolVersion } from '../index.js';
import { globalFlags, type CommandContext } from './context.js';
import { outputMode } from './output.js';

/**
 * gopid1 as a Docker CLI plugin: `docker gopid1 build …`. The docker CLI finds `docker-gopid1` in its cli-plugins
 * directory, asks it for `docker-cli-plugin-metadata`, and runs it with its own command line: the global options it
 * was given (`--context`, `-H`, `--config`, …), then `gopid1` and gopid1's arguments. gopid1 honours those options
 * the way the docker CLI does, through DOCKER_CONTEXT, DOCKER_HOST and DOCKER_CONFIG (engine/endpoint.ts).
 */
export const PLUGIN_METADATA = {
  SchemaVersion: '0.1.0',
  Vendor: 'gopid1',
  Version: toolVersion,
  ShortDescription: 'Turn a Go program into a bootable Linux machine in which it is PID 1',
};

/** The docker CLI's global options that take a value, and the environment variable that says the same to gopid1. */
const VALUE_OPTIONS: Record<string, string | undefined> = {
  '--context': 'DOCKER_CONTEXT',
  '-c': 'DOCKER_CONTEXT',
  '--host': 'DOCKER_HOST',
  '-H': 'DOCKER_HOST',
  '--config': 'DOCKER_CONFIG',
  '--log-level': undefined,
  '-l': undefined,
  '--tlscacert': undefined,
  '--tlscert': undefined,
  '--tlskey': undefined,
};

/** gopid1's arguments and environment from the argv the docker CLI runs the plugin with. */
export function pluginInvocation(argv: string[]): { metadata: true } | { args: string[]; env: Record<string, string> } {
  if (argv[0] === 'docker-cli-plugin-metadata') return { metadata: true };
  const env: Record<string, string> = {};
  let at = 0;
  while (at < argv.length && argv[at] !== 'gopid1') {
    const arg = argv[at] ?? '';
    const [name = '', inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name in VALUE_OPTIONS) {
      const value = inline ?? argv[++at];
      const variable = VALUE_OPTIONS[name];
      if (variable !== undefined && value !== undefined) env[variable] = value;
    } else if (name === '--tls' || name === '--tlsverify') {
      env.DOCKER_TLS_VERIFY = '1';
    }
    at += 1;
  }
  return { args: argv.slice(at + 1), env };
}

/** The plugin executable: a script that runs gopid1's plugin entry with this Node. */
export function pluginScript(node: string, root: string): string {
  const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# The gopid1 Docker CLI plugin (gopid1 docker-plugin install).\nexec ${quote(node)} ${quote(path.join(root, 'build', 'src', 'cli', 'docker-plugin-main.js'))} "$@"\n`;
}

/** Where the docker CLI looks for plugins: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins. */
export function pluginDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG || path.join(os.homedir(), '.docker'), 'cli-plugins');
}

export async function installPlugin(dir: string = pluginDir()): Promise<string> {
  const file = path.join(dir, 'docker-gopid1');
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(file, pluginScript(process.execPath, packageRoot));
    await chmod(file, 0o755);
  } catch (error) {
    throw new Gopid1Error('BAD_INPUT', `cannot write the Docker CLI plugin ${file}: ${error instanceof Error ? error.message : String(error)}`, { hint: 'Give a directory you may write to with --dir (the docker CLI also looks in /usr/local/lib/docker/cli-plugins).' });
  }
  return file;
}

export function registerDockerPlugin(program: Command, _context: CommandContext): void {
  program
    .command('docker-plugin')
    .description('install gopid1 as a Docker CLI plugin, so that `docker gopid1 …` runs it (honouring docker --context and -H)')
    .argument('<action>', 'install')
    .option('--dir <dir>', 'the docker CLI\'s plugin directory (default: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins)')
    .action(async (action: string, flags: { dir?: string }, command: Command) => {
      if (action !== 'install') throw new Gopid1Error('BAD_INPUT', `docker-plugin ${action}: the action is install`, { hint: 'gopid1 docker-plugin install' });
      const file = await installPlugin(flags.dir ?? pluginDir());
      if (outputMode(globalFlags(command)) === 'json') process.stdout.write(`${JSON.stringify({ ok: true, plugin: file }, null, 2)}\n`);
      else process.stdout.write(`installed ${file}: \`docker gopid1 build <app>\` runs this gopid1\n`);
    });
}
