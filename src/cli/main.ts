#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { toolVersion } from '../index.js';
import { registerBoot } from './boot-command.js';
import { registerBuild } from './build-command.js';
import { registerClean } from './clean-command.js';
import { registerDockerPlugin } from './docker-plugin-command.js';
import { registerCompare } from './compare-command.js';
import { registerPush } from './push-command.js';
import { registerRun } from './run-command.js';
import { registerSchema } from './schema-command.js';
import { registerTest } from './test-command.js';
import { registerVerify } from './verify-command.js';
import type { CommandContext } from './context.js';
import { errorJson, exitCodeFor, formatError, signalExitCode, type GlobalFlags } from './output.js';

/** The entry point: parses the command line, wires Ctrl-C/SIGTERM to an AbortSignal, prints errors, exits. */
async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let exitCode = 0;
  let signals = 0;
  /** The first signal received: an interrupted command exits 128 + its number (130 for SIGINT, 143 for SIGTERM). */
  let received: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    signals += 1;
    received ??= name;
    if (signals > 1) {
      process.stderr.write(`gopid1: ${name} again; exiting without cleaning up (run \`gopid1 clean\` later)\n`);
      process.exit(signalExitCode(received));
    }
    process.stderr.write(`\ngopid1: ${name}: stopping (again to exit at once)…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal (SSH drop, closed window) must clean up too.
  process.on('SIGHUP', onSignal);
  // Output to a terminal that went away must not crash the clean-up.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);

  const context: CommandContext = { signal: controller.signal, setExitCode: (code) => (exitCode = code) };
  const program = new Command('gopid1')
    .description('turn a Go program into a bootable Linux machine in which it is PID 1')
    .version(toolVersion)
    .option('--json', 'print one machine-readable JSON result on stdout, no spinner')
    .option('--debug', 'print stack traces with errors')
    .option('--verbose', 'stream builder output to stderr')
    .showHelpAfterError()
    .exitOverride();
  registerBuild(program, context);
  registerBoot(program, context);
  registerVerify(program, context);
  registerTest(program, context);
  registerCompare(program, context);
  registerPush(program, context);
  registerRun(program, context);
  registerClean(program, context);
  registerDockerPlugin(program, context);
  registerSchema(program, context);

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const flags = program.opts<GlobalFlags>();
    if (flags.json) process.stdout.write(`${JSON.stringify(errorJson(error), null, 2)}\n`);
    process.stderr.write(formatError(error, flags.debug ?? false));
    return exitCodeFor(error, received);
  }
}

// Node ends by itself, with status 0, when nothing is left to wait for: a command whose promise can no longer
// settle (a request whose connection vanished unanswered) must not pass for a success.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  process.stderr.write('gopid1: internal error: the command stopped before finishing (a request that was never answered, e.g. by a Docker engine that went away); run it again, and with --debug to report it\n');
  process.exit(1);
});

// Exit explicitly: open sockets to the Docker engine must not keep a finished command alive.
main(process.argv).then(
  (code) => {
    finished = true;
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`gopid1: internal error: ${String(error)}\n`);
    process.exit(1);
  },
);
