import { Option, type Command } from 'commander';
import { ARCHES, INIT_MODES, test, type Arch, type InitMode, type TestResult } from '../index.js';
import { collect, globalFlags, positiveInteger, type CommandContext } from './context.js';
import { formatSeconds, outputMode } from './output.js';
import { withProgress } from './progress-view.js';

interface TestFlags {
  dir?: string;
  timeout?: number;
  memory?: number;
  out?: string;
  tags?: string[];
  arch?: Arch;
  net?: boolean;
  init?: InitMode;
}

/** One line per package, as `go test` ends: ok or FAIL, the package, the time (and why, when it did not get a status). */
function summary(result: TestResult): string {
  if (result.packages.length === 0) return 'no packages with test files';
  return result.packages
    .map((pkg) => `${pkg.passed ? 'ok  ' : 'FAIL'}\t${pkg.importPath}\t${formatSeconds(pkg.durationMs)}${pkg.error !== undefined ? `\t${pkg.error}` : ''}`)
    .join('\n');
}

function showLine(line: string, from: 'tests' | 'machine', verbose: boolean): void {
  if (from === 'tests') process.stdout.write(`${line}\n`);
  else if (verbose) process.stderr.write(`${line}\n`);
}

export function registerTest(program: Command, context: CommandContext): void {
  program
    .command('test')
    .description('run Go packages\' tests inside the machine: each package\'s test binary (go test -c) is the program of the default machine under the supervising init, in its package\'s directory')
    .argument('[packages...]', 'packages as go test takes them (default .); the tests\' flags after --, e.g. gopid1 test ./... -- -run TestX -v')
    .option('-C, --dir <dir>', 'the module\'s directory (default: the current one)')
    .option('--timeout <seconds>', 'per package, as go test -timeout (default 600)', positiveInteger('--timeout'))
    .option('-m, --memory <mib>', 'each machine\'s RAM in MiB (default: 512)', positiveInteger('--memory'))
    .option('--out <dir>', 'build each package\'s machine in <dir>/<n> and keep it (default: a temporary directory)')
    .option('--tags <list>', 'Go build tags, as go test -tags takes them (repeatable), e.g. timetzdata', collect)
    .addOption(new Option('--arch <arch>', 'the machines\' architecture (default: amd64)').choices([...ARCHES]))
    .addOption(new Option('--init <mode>', 'who is PID 1: supervise (the default: gopid1\'s init, the package\'s directory as working directory) or direct (the test binary itself, in /)').choices([...INIT_MODES]))
    .option('--net', 'networking in the machines (DHCP on QEMU\'s user network), for tests that reach out')
    .action(async (packages: string[], flags: TestFlags, command: Command) => {
      // Commander drops the `--` and appends what follows it to the packages; the root command keeps the words it
      // parsed (rawArgs, which its typings leave out).
      const raw = (command.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs ?? [];
      const dash = raw.indexOf('--');
      const testArgs = dash >= 0 ? raw.slice(dash + 1) : [];
      const names = packages.slice(0, packages.length - testArgs.length);
      const json = outputMode(globalFlags(command)) === 'json';
      const verbose = globalFlags(command).verbose === true;
      const { result } = await withProgress(command, (onEvent) =>
        test({
          ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
          ...(names.length > 0 ? { packages: names } : {}),
          testArgs,
          ...(flags.timeout !== undefined ? { timeoutSeconds: flags.timeout } : {}),
          ...(flags.out !== undefined ? { out: flags.out } : {}),
          ...(flags.memory !== undefined ? { memoryMiB: flags.memory } : {}),
          ...(flags.tags !== undefined ? { tags: flags.tags } : {}),
          ...(flags.arch !== undefined ? { arch: flags.arch } : {}),
          ...(flags.net ? { net: true } : {}),
          ...(flags.init !== undefined ? { init: flags.init } : {}),
          onProgress: onEvent,
          // --json: go test -json's events, one a line, as each package ends; else the tests' output as it comes, as
          // go test shows it (the kernel's and the init's lines on stderr with --verbose).
          ...(json ? { onEvent: (event: string) => process.stdout.write(`${event}\n`) } : { onOutput: (_pkg: string, line: string, from: 'tests' | 'machine') => showLine(line, from, verbose) }),
          signal: context.signal,
        }),
      );
      if (!json) process.stdout.write(`${summary(result)}\n`);
      context.setExitCode(result.passed ? 0 : 1);
    });
}
