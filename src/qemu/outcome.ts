import { Gopid1Error, interrupted } from '../errors.js';
import type { ConsoleVerdict } from './console.js';

/**
 * How a boot ended, decided from what the process control saw: the console's verdict, whether the run was stopped
 * (abort, timeout), QEMU's watchdog event and how QEMU itself ended. A pure function: each outcome, and each error
 * that says what to do next, is unit-tested without QEMU (test/unit/boot-outcome.test.ts).
 */
export interface RunFacts {
  /** What settled the run on the console (or `sampled`: stopped after the first output window). */
  verdict: ConsoleVerdict | { kind: 'sampled' } | undefined;
  /** Stopped by the caller's signal (Ctrl-C). */
  aborted: boolean;
  timedOut: boolean;
  /** The machine was stopped through its power button (ACPI on x86, a GPIO key on arm64; the supervising init listens), not killed. */
  poweredDown: boolean;
  /** QEMU's WATCHDOG event: its action ("reset"). */
  watchdogFired?: string | undefined;
  qemu: { exitCode?: number | undefined; signal?: string | undefined; stderr: string };
  expect?: RegExp | undefined;
  /** When `expect` was met, from QEMU's start. */
  expectedAt?: number | undefined;
  timeoutSeconds?: number | undefined;
  /** The console's last lines, for errors. */
  lastLines: string[];
  serialLog: string;
  command: string[];
}

export type Outcome =
  | { outcome: 'first-output' }
  | { outcome: 'expected'; expectMs?: number }
  | { outcome: 'exited'; exitStatus?: number; exitSignal?: number; cleanPowerOff?: boolean }
  | { outcome: 'powered-off' };

type Exited = Extract<ConsoleVerdict, { kind: 'init-exited' | 'app-exited' }>;

export function exitDescription(verdict: Pick<Exited, 'status' | 'signal'>): string {
  return verdict.signal !== undefined ? `was killed by signal ${verdict.signal}` : `exited with status ${verdict.status}`;
}

/** The program ended: its status, or BOOT_FAILED when --expect was still waiting. */
function exited(facts: RunFacts, verdict: Exited): Outcome {
  if (facts.expect) {
    throw new Gopid1Error('BOOT_FAILED', `the program ${exitDescription(verdict)} before ${facts.expect} appeared on the console`, {
      step: 'boot',
      exitCode: verdict.status !== undefined && verdict.status !== 0 ? verdict.status : 1,
      logTail: facts.lastLines,
      logFile: facts.serialLog,
      hint: verdict.kind === 'app-exited' ? 'The program ended, so the supervising init powered the machine off. Read the last console lines above for why.' : 'PID 1 ended, so the kernel stopped the machine. Read the last console lines above for why.',
    });
  }
  const exit = verdict.signal !== undefined ? { exitSignal: verdict.signal } : { exitStatus: verdict.status ?? 0 };
  return { outcome: 'exited', ...exit, ...(verdict.kind === 'app-exited' ? { cleanPowerOff: facts.qemu.exitCode === 0 && !facts.qemu.signal } : {}) };
}

function watchdogReset(facts: RunFacts): Gopid1Error {
  const fired = facts.watchdogFired;
  return new Gopid1Error('WATCHDOG_RESET', `the machine's watchdog was not fed in time: it ${fired === undefined || fired === 'reset' ? 'reset the machine' : `fired (QEMU action ${fired})`}`, {
    step: 'boot',
    logTail: facts.lastLines,
    logFile: facts.serialLog,
    hint: 'The supervising init stopped feeding it: it hung, the program stayed unhealthy, or /run/gopid1/watchdog-stall exists. Read the console lines above; on a cloud the machine would reboot.',
  });
}

function timeout(facts: RunFacts): Gopid1Error {
  const waited = `${facts.timeoutSeconds} s`;
  const lines = facts.lastLines;
  return new Gopid1Error('BOOT_TIMEOUT', facts.expect ? `${facts.expect} did not appear on the console within ${waited}` : `the machine was still running after ${waited}`, {
    step: 'boot',
    exitCode: 124,
    logTail: lines.length > 0 ? lines : ['(the console printed nothing)'],
    logFile: facts.serialLog,
    hint:
      lines.length > 0
        ? 'Check the last console lines above; raise --timeout if the program is just slow (software emulation is).'
        : 'Nothing reached the serial console: check that the kernel has SERIAL_8250_CONSOLE and that the program writes to stdout.',
  });
}

/** QEMU ended on its own without a verdict: a power-off, or QEMU's own failure (a forward it could not set up, …). */
function qemuEnded(facts: RunFacts): Outcome {
  const { qemu } = facts;
  if (qemu.exitCode === 0 && !qemu.signal) {
    if (!facts.expect) return { outcome: 'powered-off' };
    throw new Gopid1Error('BOOT_FAILED', `the machine powered off before ${facts.expect} appeared on the console`, {
      step: 'boot',
      logTail: facts.lastLines,
      logFile: facts.serialLog,
      hint: 'The program shut the machine down; read the last console lines above.',
    });
  }
  const forward = /Could not set up host forwarding rule '([^']*)'/.exec(qemu.stderr);
  if (forward) {
    throw new Gopid1Error('BAD_INPUT', `QEMU could not forward ${forward[1]}: the host port is in use or not allowed`, {
      step: 'boot',
      logTail: qemu.stderr.split('\n').filter(Boolean).slice(-5),
      hint: 'Pick another host port for --forward (ports below 1024 need root), or stop what listens on it.',
    });
  }
  throw new Gopid1Error('BOOT_FAILED', `QEMU stopped with ${qemu.signal ? `signal ${qemu.signal}` : `exit code ${qemu.exitCode}`}`, {
    step: 'boot',
    command: facts.command.join(' '),
    ...(qemu.exitCode !== undefined ? { exitCode: qemu.exitCode } : {}),
    logTail: [...qemu.stderr.split('\n').filter(Boolean).slice(-10), ...facts.lastLines.slice(-10)],
    logFile: facts.serialLog,
    hint: 'Read QEMU\'s message above; check that the kernel and initramfs are what `gopid1 build` wrote.',
  });
}

/** The outcome of a boot, or the error that says how it failed. */
export function outcomeOf(facts: RunFacts): Outcome {
  const { verdict } = facts;
  if (verdict?.kind === 'sampled') return { outcome: 'first-output' };
  if (verdict?.kind === 'expected') return { outcome: 'expected', ...(facts.expectedAt !== undefined ? { expectMs: facts.expectedAt } : {}) };
  if (facts.aborted) {
    const ended = verdict?.kind === 'app-exited' ? ` after the program ${exitDescription(verdict)}` : '';
    throw interrupted('boot', facts.poweredDown ? `The machine was asked to power off through its power button${ended}; the console is in ${facts.serialLog}.` : `QEMU was stopped; the console is in ${facts.serialLog}.`);
  }
  if ((verdict?.kind === 'init-exited' || verdict?.kind === 'app-exited') && !facts.timedOut) return exited(facts, verdict);
  if (facts.watchdogFired !== undefined || verdict?.kind === 'watchdog') throw watchdogReset(facts);
  if (verdict?.kind === 'panic') {
    throw new Gopid1Error('KERNEL_PANIC', `the kernel panicked: ${verdict.message}`, {
      step: 'boot',
      logTail: facts.lastLines,
      logFile: facts.serialLog,
      hint: 'Read the console lines above. A kernel that cannot run the program usually lacks an option: add it with --kernel-fragment.',
    });
  }
  if (facts.timedOut) throw timeout(facts);
  // Ctrl-C on a terminal reaches QEMU too (same process group), sometimes before it reaches us; QEMU then
  // exits 0 saying "terminating on signal 2", which must not pass for a power-off.
  if (['SIGINT', 'SIGTERM', 'SIGHUP'].includes(facts.qemu.signal ?? '') || /terminating on signal \d+/.test(facts.qemu.stderr)) throw interrupted('boot');
  return qemuEnded(facts);
}
