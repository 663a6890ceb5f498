import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { counts, directCause, parityFlags, parseVerbose, regressions } from '../../bench/parity.js';

// As a Go 1.24 test binary prints with -test.v: parallel tests pause and continue, subtests nest, output is indented.
const container = parseVerbose(
  [
    '=== RUN   TestEcho',
    '--- PASS: TestEcho (0.00s)',
    '=== RUN   TestListen',
    '=== PAUSE TestListen',
    '=== RUN   TestSetuid',
    '    setuid_test.go:12: running as 0',
    '--- PASS: TestSetuid (0.01s)',
    '=== CONT  TestListen',
    '--- PASS: TestListen (0.02s)',
    '=== RUN   TestTree',
    '=== RUN   TestTree/a',
    '    --- SKIP: TestTree/a (0.00s)',
    '        tree_test.go:40: no /tmp',
    '--- PASS: TestTree (0.00s)',
    'PASS',
  ],
  0,
);

const machine = parseVerbose(
  [
    '[    1.1] random: crng init done',
    '=== RUN   TestEcho',
    '--- PASS: TestEcho (0.00s)',
    '=== RUN   TestListen',
    '=== PAUSE TestListen',
    '=== RUN   TestSetuid',
    '    setuid_test.go:20: Setuid(1): function not implemented',
    '--- FAIL: TestSetuid (0.01s)',
    '=== CONT  TestListen',
    '    listen_test.go:9: listen tcp 127.0.0.1:0: socket: address family not supported',
    '--- SKIP: TestListen (0.02s)',
    'FAIL',
    'gopid1: app exited with status 1',
  ],
  1,
);

describe('container parity: reading both sides\' test output', () => {
  it('counts each test and subtest by its outcome', () => {
    assert.deepEqual(counts(container), { pass: 4, fail: 0, skip: 1 });
    assert.deepEqual(counts(machine), { pass: 1, fail: 1, skip: 1 });
    assert.deepEqual(container.said.get('TestTree/a'), ['tree_test.go:40: no /tmp']);
    assert.equal(machine.ending, 'FAIL', 'the last word of the test binary, not the init\'s');
    assert.equal(parseVerbose(['panic: test timed out after 10m0s', '\trunning tests:', '\t\tTestSlow (9m59s)', ''], 2).ending, 'panic: test timed out after 10m0s (running TestSlow (9m59s))');
    assert.deepEqual(parityFlags('net'), ['-short', '-v', '-skip', '^(TestGoLookupIPCNAMEOrderHostsAliasesFilesDNSMode)$']);
    assert.deepEqual(parityFlags('os'), ['-short', '-v']);
    assert.equal(parseVerbose(['=== RUN   TestZone', 'panic: cannot load America/Los_Angeles', '', 'goroutine 1 [running]:'], 2).ending, 'panic: cannot load America/Los_Angeles');
  });

  it('lists what passes in the container and not in the machine, with what the machine\'s run said', () => {
    assert.deepEqual(regressions({ importPath: 'x', container, machine }), [
      { test: 'TestSetuid', outcome: 'fail', reason: 'setuid_test.go:20: Setuid(1): function not implemented' },
      { test: 'TestListen', outcome: 'skip', reason: 'listen_test.go:9: listen tcp 127.0.0.1:0: socket: address family not supported' },
      { test: 'TestTree', outcome: 'missing', reason: 'no result: the binary ended with 1' },
    ]);
    assert.deepEqual(regressions({ importPath: 'x', container: machine, machine: container }), [], 'the one test the machine passes also passes in the container');
    assert.deepEqual(regressions({ importPath: 'x', container, machine: container }, 'direct'), [], 'no run as PID 1, no differences there');
    // As Go 1.24's tests say it in a machine whose PID 1 is the test binary.
    assert.equal(directCause('exec.go:92: os.Executable error: readlink /proc/self/exe: no such file or directory'), '/proc is not mounted');
    assert.equal(directCause('copy_test.go:48: NewLocalListener error: tcp is not supported on linux/amd64'), '`lo` is down: no 127.0.0.1 or ::1');
    assert.equal(directCause('dial tcp [::1]:80: connect: network is unreachable'), '`lo` is down: no 127.0.0.1 or ::1');
    assert.equal(directCause('readfrom_linux_test.go:401: linux does not support "tcp4"'), '`lo` is down: no 127.0.0.1 or ::1');
    assert.equal(directCause('listen_test.go:72: skipping tcp  test'), '`lo` is down: no 127.0.0.1 or ::1', 'net\'s own test of loopback support');
    assert.equal(directCause('open /dev/pts/0: no such file or directory'), '/dev has /dev/console and /dev/null alone');
    assert.equal(directCause('os_test.go:1627: Chdir /usr/bin: chdir /usr/bin: no such file or directory'), undefined, 'not one of PID 1\'s causes: the same in every mode');
    assert.deepEqual(regressions({ importPath: 'x', container, machine: container, direct: machine }, 'direct').map((r) => r.test), ['TestSetuid', 'TestListen', 'TestTree'], 'the run as PID 1, compared on its own');
  });
});
