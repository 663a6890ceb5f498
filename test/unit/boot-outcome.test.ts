import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGopid1Error } from '../../src/errors.js';
import { outcomeOf, type RunFacts } from '../../src/qemu/outcome.js';

const facts = (overrides: Partial<RunFacts> = {}): RunFacts => ({
  verdict: undefined,
  aborted: false,
  timedOut: false,
  poweredDown: false,
  qemu: { exitCode: 0, stderr: '' },
  lastLines: ['last line'],
  serialLog: '/out/serial.log',
  command: ['qemu-system-x86_64', '-M', 'pc'],
  ...overrides,
});

/** Asserts outcomeOf throws a Gopid1Error with this code whose message matches, and returns it. */
function fails(input: RunFacts, code: string, message: RegExp): NonNullable<ReturnType<typeof caught>> {
  const error = caught(input);
  assert.ok(error && error.code === code && message.test(error.message), `${error?.code}: ${error?.message}`);
  assert.ok(error.hint, 'says what to do next');
  return error;
}

function caught(input: RunFacts) {
  try {
    outcomeOf(input);
  } catch (error) {
    if (isGopid1Error(error)) return error;
    throw error;
  }
  return undefined;
}

const appExited = { kind: 'app-exited' as const, status: 3, line: 'gopid1: app exited with status 3' };
const initExited = { kind: 'init-exited' as const, code: 0x300, status: 3, line: 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300' };

describe('boot outcome: what the console and QEMU said, mapped to a result or an error', () => {
  it('--expect met, and the first-output window, are results whatever QEMU did after', () => {
    assert.deepEqual(outcomeOf(facts({ verdict: { kind: 'expected', line: 'hi' }, expectedAt: 812, qemu: { signal: 'SIGTERM', stderr: '' } })), { outcome: 'expected', expectMs: 812 });
    assert.deepEqual(outcomeOf(facts({ verdict: { kind: 'sampled' } })), { outcome: 'first-output' });
  });

  it('the program\'s end: its status or signal, and whether the supervising init powered off cleanly', () => {
    assert.deepEqual(outcomeOf(facts({ verdict: initExited })), { outcome: 'exited', exitStatus: 3 });
    assert.deepEqual(outcomeOf(facts({ verdict: appExited })), { outcome: 'exited', exitStatus: 3, cleanPowerOff: true });
    assert.deepEqual(outcomeOf(facts({ verdict: { ...appExited, status: undefined, signal: 9 }, qemu: { signal: 'SIGTERM', stderr: '' } })), { outcome: 'exited', exitSignal: 9, cleanPowerOff: false });
  });

  it('the program\'s end before --expect is BOOT_FAILED with its status as exit code', () => {
    const error = fails(facts({ verdict: appExited, expect: /ready/ }), 'BOOT_FAILED', /^the program exited with status 3 before \/ready\/ appeared on the console$/);
    assert.equal(error.exitCode, 3);
    assert.match(error.hint ?? '', /supervising init powered the machine off/);
    assert.equal(fails(facts({ verdict: { ...initExited, status: 0 }, expect: /ready/ }), 'BOOT_FAILED', /exited with status 0/).exitCode, 1, 'status 0 is still a failure');
  });

  it('an abort is INTERRUPTED, saying whether the power button was pressed and how the program ended', () => {
    assert.match(fails(facts({ aborted: true, poweredDown: true, verdict: appExited }), 'INTERRUPTED', /interrupted during boot/).hint ?? '', /asked to power off through its power button after the program exited with status 3; the console is in \/out\/serial\.log/);
    assert.match(fails(facts({ aborted: true }), 'INTERRUPTED', /boot/).hint ?? '', /^QEMU was stopped/);
  });

  it('a watchdog reset (QEMU\'s event or softdog\'s console line), a kernel panic', () => {
    fails(facts({ watchdogFired: 'reset', qemu: { signal: 'SIGTERM', stderr: '' } }), 'WATCHDOG_RESET', /it reset the machine$/);
    fails(facts({ watchdogFired: 'pause' }), 'WATCHDOG_RESET', /fired \(QEMU action pause\)/);
    fails(facts({ verdict: { kind: 'watchdog', line: 'softdog: Initiating system reboot' } }), 'WATCHDOG_RESET', /reset the machine/);
    fails(facts({ verdict: { kind: 'panic', message: 'VFS: Unable to mount root fs', line: '' } }), 'KERNEL_PANIC', /^the kernel panicked: VFS: Unable to mount root fs$/);
  });

  it('a timeout wins over a program end seen while stopping, says what was waited for, and shows the console or its silence', () => {
    const error = fails(facts({ timedOut: true, timeoutSeconds: 30, verdict: appExited, expect: /ready/ }), 'BOOT_TIMEOUT', /^\/ready\/ did not appear on the console within 30 s$/);
    assert.equal(error.exitCode, 124);
    assert.deepEqual(fails(facts({ timedOut: true, timeoutSeconds: 5, lastLines: [] }), 'BOOT_TIMEOUT', /still running after 5 s/).logTail, ['(the console printed nothing)']);
  });

  it('QEMU ending by itself: a power-off (BOOT_FAILED when --expect waited), a Ctrl-C it got first, a forward it could not set up, anything else', () => {
    assert.deepEqual(outcomeOf(facts()), { outcome: 'powered-off' });
    fails(facts({ expect: /ready/ }), 'BOOT_FAILED', /powered off before \/ready\//);
    fails(facts({ qemu: { exitCode: 0, stderr: 'qemu-system-x86_64: terminating on signal 2' } }), 'INTERRUPTED', /boot/);
    fails(facts({ qemu: { signal: 'SIGINT', stderr: '' } }), 'INTERRUPTED', /boot/);
    fails(facts({ qemu: { exitCode: 1, stderr: "qemu-system-x86_64: Could not set up host forwarding rule 'tcp:127.0.0.1:80-:80'\n" } }), 'BAD_INPUT', /could not forward tcp:127\.0\.0\.1:80-:80/);
    const other = fails(facts({ qemu: { exitCode: 1, stderr: 'qemu: oops\n' } }), 'BOOT_FAILED', /^QEMU stopped with exit code 1$/);
    assert.deepEqual(other.logTail, ['qemu: oops', 'last line']);
    fails(facts({ qemu: { signal: 'SIGKILL', stderr: '' } }), 'BOOT_FAILED', /signal SIGKILL/);
  });
});
