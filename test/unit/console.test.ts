import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, cleanLine } from '../../src/lines.js';
import { ConsoleWatcher, toRegExp, decodeInitExit, isKernelLine } from '../../src/qemu/console.js';

describe('serial console', () => {
  it('tells kernel lines (printk timestamps) from the program\'s', () => {
    assert.equal(isKernelLine('[    0.123456] Run /init as init process'), true);
    assert.equal(isKernelLine('[12345.000001] x'), true);
    assert.equal(isKernelLine('Hello from Golang'), false);
    assert.equal(isKernelLine('[not a time] hello'), false);
  });

  it('decodes PID 1 wait statuses the way the kernel prints them', () => {
    assert.deepEqual(decodeInitExit(0x00000300), { status: 3 });
    assert.deepEqual(decodeInitExit(0x00000000), { status: 0 });
    assert.deepEqual(decodeInitExit(0x00000200), { status: 2 });
    assert.deepEqual(decodeInitExit(0x0000000b), { signal: 11, coreDumped: false });
    assert.deepEqual(decodeInitExit(0x00000086), { signal: 6, coreDumped: true });
  });

  it('matches --expect against the program\'s lines only, unless told to match anywhere', () => {
    const grub = ['SeaBIOS (version 1.16)', 'Booting from DVD/CD...', "Booting `hello'", '[    0.412000] hello: module loaded', 'gopid1: app started hello'];
    const strict = new ConsoleWatcher({ expect: /hello/i, bootloader: 'grub', supervised: true });
    for (const line of grub) assert.equal(strict.feed(line, 1), undefined, line);
    assert.deepEqual(strict.feed('Hello from Golang', 2), { kind: 'expected', line: 'Hello from Golang' });
    const anywhere = new ConsoleWatcher({ expect: /hello/i, expectAnywhere: true, bootloader: 'grub', supervised: true });
    assert.deepEqual(anywhere.feed("Booting `hello'", 1), { kind: 'expected', line: "Booting `hello'" });
    const uki = new ConsoleWatcher({ expect: /hello|Boot0001/i, bootloader: 'uki' });
    assert.equal(uki.feed('BdsDxe: loading Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x2,0x0)', 1), undefined);
    assert.equal(uki.feed('BdsDxe: starting Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x2,0x0)', 1), undefined, 'the firmware\'s boot manager is not the program');
    assert.deepEqual(uki.feed('Hello from Golang', 2), { kind: 'expected', line: 'Hello from Golang' }, 'no GRUB line to wait for before a UKI');
    const softdog = new ConsoleWatcher({ supervised: true });
    assert.deepEqual(softdog.feed('[   12.345678] softdog: Initiating system reboot', 3), { kind: 'watchdog', line: '[   12.345678] softdog: Initiating system reboot' });
    assert.equal(new ConsoleWatcher().feed('softdog: Initiating system reboot', 3), undefined, 'only the kernel\'s own line says so');
    const direct = new ConsoleWatcher({ expect: /Linux version/ });
    assert.equal(direct.feed('[    0.000000] Linux version 6.12.117', 1), undefined, 'a kernel line is not the program\'s');
  });

  it('counts matches of a pattern with the g or y flag line by line, as of any other', () => {
    for (const pattern of [/Hello/g, /Hello/y, /hello/gi]) {
      const watcher = new ConsoleWatcher({ expect: toRegExp(pattern), expectCount: 3 });
      assert.equal(watcher.feed('Hello 1', 1), undefined);
      assert.equal(watcher.feed('Hello 2', 2), undefined);
      assert.equal(watcher.feed('Hello 3', 3)?.kind, 'expected', String(pattern));
    }
    assert.equal(toRegExp(/Hello/gi).flags, 'i');
  });

  it('reports the N-th match of --expect, and when the program first spoke', () => {
    const watcher = new ConsoleWatcher({ expect: /Hello/, expectCount: 2 });
    assert.equal(watcher.feed('[    0.500000] Linux version 6.12', 500), undefined);
    assert.equal(watcher.feed('', 600), undefined);
    assert.equal(watcher.feed('Hello from Golang', 1200), undefined);
    assert.equal(watcher.firstProgramLineAt, 1200);
    assert.deepEqual(watcher.feed('Hello from Golang', 2200), { kind: 'expected', line: 'Hello from Golang' });
    assert.equal(watcher.expectedAt, 2200);
  });

  it('notices the kernel\'s OOM killer, and only the kernel\'s line', () => {
    const watcher = new ConsoleWatcher({ supervised: true });
    watcher.feed('Out of memory: Killed process 7 (my own words)', 1);
    assert.equal(watcher.outOfMemory, false, 'the program printing the words is not the kernel');
    watcher.feed('[   15.290186] Out of memory: Killed process 25 (app) total-vm:1232776kB, anon-rss:53824kB, file-rss:4kB', 2);
    assert.equal(watcher.outOfMemory, true);
  });

  it('turns the kernel\'s "Attempted to kill init" into the program\'s exit status', () => {
    const watcher = new ConsoleWatcher();
    const verdict = watcher.feed('[    1.734000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300', 1734);
    assert.deepEqual(verdict, {
      kind: 'init-exited',
      code: 0x300,
      status: 3,
      line: '[    1.734000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300',
    });
  });

  it('under the supervising init, takes its "gopid1: app …" line for the program\'s end, and its lines for no program output', () => {
    const watcher = new ConsoleWatcher({ supervised: true });
    assert.equal(watcher.feed('gopid1: cannot mount tmpfs on /run: no such device', 900), undefined);
    assert.equal(watcher.firstProgramLineAt, undefined, 'the init\'s own message is not the program speaking');
    assert.equal(watcher.feed('serving', 1000), undefined);
    assert.equal(watcher.firstProgramLineAt, 1000);
    assert.deepEqual(watcher.feed('gopid1: app exited with status 3', 1100), { kind: 'app-exited', status: 3, line: 'gopid1: app exited with status 3' });
    assert.deepEqual(watcher.feed('gopid1: app killed by signal 9 (killed)', 1200), { kind: 'app-exited', signal: 9, line: 'gopid1: app killed by signal 9 (killed)' });
    assert.equal(new ConsoleWatcher().feed('gopid1: app exited with status 3', 1), undefined, 'a program that is PID 1 itself cannot end the run by printing it');
    const restarting = new ConsoleWatcher({ supervised: true });
    assert.equal(restarting.feed('gopid1: app exited with status 1, restart 1 in 1 s', 1), undefined, 'a restart does not end the run');
    assert.equal(restarting.feed('gopid1: app killed by signal 9 (killed), restart 2 in 2 s', 2), undefined);
    assert.deepEqual(restarting.feed('gopid1: app exited with status 0', 3), { kind: 'app-exited', status: 0, line: 'gopid1: app exited with status 0' });
  });

  it('places the kernel\'s clock and its handover to /init on the caller\'s clock, from printk timestamps', () => {
    const watcher = new ConsoleWatcher();
    watcher.feed('[    0.000000] Linux version 6.12.117', 700);
    assert.equal(watcher.kernelClockZeroAt, undefined, 'a zero timestamp says nothing');
    watcher.feed('[    0.161592] Unpacking initramfs...', 990);
    watcher.feed('[    0.239937] Freeing initrd memory: 636K', 1040);
    assert.equal(Math.round(watcher.kernelClockZeroAt ?? 0), 800, 'the line that waited least');
    watcher.feed('[    0.445865] Run /init as init process', 1300);
    assert.equal(Math.round(watcher.initAt ?? 0), 1246);
    watcher.feed('Hello from Golang', 1330);
    assert.equal(watcher.firstProgramLineAt, 1330);
  });

  it('reports other panics with their message', () => {
    const verdict = new ConsoleWatcher().feed('[    0.9] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel.', 900);
    assert.equal(verdict?.kind, 'panic');
    assert.match(verdict?.kind === 'panic' ? verdict.message : '', /^No working init found/);
  });
});

describe('line splitting', () => {
  it('joins chunks into lines and strips CR and escape sequences', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.push('Hel');
    splitter.push('lo\r\n\x1b[2J\x1bcWorld\r\nprom');
    assert.deepEqual(lines, ['Hello', 'World']);
    assert.equal(splitter.partial, 'prom');
    splitter.end();
    assert.deepEqual(lines, ['Hello', 'World', 'prom']);
    assert.equal(cleanLine('\x1b[1;32mgreen\x1b[0m\r'), 'green');
  });
});

describe('partial console lines', () => {
  it('count as the program\'s first output and can meet the last expected match', () => {
    const watcher = new ConsoleWatcher({ expect: /password:/, expectCount: 1 });
    assert.deepEqual(watcher.feedPartial('password:', 900), { kind: 'expected', line: 'password:' });
    assert.equal(watcher.firstProgramLineAt, 900);
    const counting = new ConsoleWatcher({ expect: /tick/, expectCount: 2 });
    assert.equal(counting.feedPartial('tick', 100), undefined, 'one partial match is not two');
    assert.equal(counting.feed('tick', 110), undefined);
    assert.deepEqual(counting.feedPartial('tick', 1100), { kind: 'expected', line: 'tick' });
  });
});

describe('partial kernel lines', () => {
  it('are not taken for the program\'s first output', () => {
    const watcher = new ConsoleWatcher();
    watcher.feedPartial('[    0.81', 810);
    assert.equal(watcher.firstProgramLineAt, undefined);
    watcher.feed('[    0.812135] Run /init as init process', 812);
    assert.equal(watcher.firstProgramLineAt, undefined);
  });
});

describe('ISO boots (GRUB in front of the kernel)', () => {
  it('count output as the program\'s only after GRUB\'s "Booting" line and its own messages', () => {
    const watcher = new ConsoleWatcher({ bootloader: 'grub' });
    watcher.feed('BdsDxe: starting Boot0001 "UEFI QEMU DVD-ROM QM00001 "', 100);
    watcher.feedPartial("    Booting `hello'", 150);
    watcher.feed("    Booting `hello'Booting `hello'", 160);
    watcher.feed('error: no suitable video mode found.', 170);
    watcher.feed('Booting in blind mode', 180);
    assert.equal(watcher.firstProgramLineAt, undefined);
    watcher.feed('Hello from Golang', 2000);
    assert.equal(watcher.firstProgramLineAt, 2000);
  });
});

describe('lines still arriving', () => {
  it('mark the first output but never meet --expect until the console has gone quiet', () => {
    const watcher = new ConsoleWatcher({ expect: /count: 1$/ });
    watcher.notePartial('count: 1', 500);
    assert.equal(watcher.firstProgramLineAt, 500);
    assert.equal(watcher.feed('count: 10', 510), undefined, 'the whole line does not match');
  });
});
