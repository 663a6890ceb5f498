import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costliest, parseInitcalls, parseSystemMap } from '../../bench/initcalls.js';

// As Linux 6.12 prints with initcall_debug and no KALLSYMS (addresses), and as System.map lists the functions.
const systemMap = ['ffffffff81000000 T _text', 'ffffffff81e5a1b0 t pci_subsys_init', 'ffffffff81e60040 T serial8250_init', 'ffffffff81e60040 t serial8250_init_alias', 'ffffffff82000000 D some_data'].join('\n');
const boot = (slow: number) =>
  [
    '[    0.127000] Memory: 61212K/81528K available',
    '[    0.300000] calling  0xffffffff81e5a1b0 @ 1',
    `[    0.368000] initcall 0xffffffff81e5a1b0 returned 0 after ${slow} usecs`,
    '[    0.369000] calling  0xffffffff81e60040 @ 1',
    '[    0.370000] Serial: 8250/16550 driver, 4 ports, IRQ sharing disabled',
    '[    0.380000] initcall 0xffffffff81e60040 returned 0 after 11000 usecs',
    '[    0.381000] calling  tiny_init+0x0/0x40 @ 1',
    '[    0.381500] initcall tiny_init+0x0/0x40 returned -19 after 500 usecs',
    '[    0.388000] Unpacking initramfs...',
    '[    0.501000] Freeing initrd memory: 1000K',
    '[    0.680000] Freeing unused kernel image (initmem) memory: 500K',
    '[    0.685000] Run /init as init process',
    'Hello from Golang',
  ].join('\n');

describe('bench: the initcall profile', () => {
  it('names each initcall from System.map, with its time and start on the kernel\'s clock, and the boot\'s landmarks', () => {
    const run = parseInitcalls(boot(68000), parseSystemMap(systemMap));
    assert.deepEqual(run.calls, [
      { fn: 'pci_subsys_init', startMs: 300, ms: 68 },
      { fn: 'serial8250_init', startMs: 369, ms: 11 },
      { fn: 'tiny_init', startMs: 381, ms: 0.5 },
    ]);
    assert.deepEqual(run.marks, { memory: 127, unpacking: 388, unpacked: 501, freeing: 680, init: 685 });
    assert.equal(parseInitcalls('[    0.1] initcall 0xffffffff8badf00d returned 0 after 5 usecs', new Map()).calls[0]?.fn, '0xffffffff8badf00d', 'an address not in the map stays an address');
  });

  it('ranks the initcalls by their median over the boots', () => {
    const symbols = parseSystemMap(systemMap);
    const runs = [parseInitcalls(boot(68000), symbols), parseInitcalls(boot(2000), symbols), parseInitcalls(boot(70000), symbols)];
    assert.deepEqual(costliest(runs, 2), [
      { fn: 'pci_subsys_init', ms: [68, 2, 70] },
      { fn: 'serial8250_init', ms: [11, 11, 11] },
    ]);
  });
});
