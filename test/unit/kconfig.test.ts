import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Gopid1Error } from '../../src/errors.js';
import { configProblemsError, parseConfig, parseFragment, parseKconfigFacts, verifyConfig } from '../../src/kernel/kconfig.js';
import { dockerfilesDir } from '../../src/paths.js';

const facts = parseKconfigFacts(
  [
    'VIRTIO_NET\tdefined\tdrivers/net/Kconfig',
    'VIRTIO_NET\tdepends\tPCI || VIRTIO_MMIO',
    'VIRTIO_NET\tdepends\tNETDEVICES && NET_CORE',
    'EPOLL\tdefined\tinit/Kconfig',
    'TMPFS\tdefined\tfs/Kconfig',
    'TMPFS\tdepends\tSHMEM',
    'EXT4_FS\tdefined\tfs/ext4/Kconfig',
    'EXT4_FS\tdepends\tBLOCK',
  ].join('\n'),
);

describe('kernel config fragments', () => {
  it('parses options, "is not set" lines, comments and blanks', () => {
    const options = parseFragment('# comment\n\nCONFIG_EPOLL=y\n# CONFIG_MODULES is not set\nCONFIG_CMDLINE="a b"\nCONFIG_NR_CPUS=4\n', 'x.config');
    assert.deepEqual(
      options.map((o) => [o.name, o.value, o.line]),
      [
        ['EPOLL', 'y', 3],
        ['MODULES', 'n', 4],
        ['CMDLINE', '"a b"', 5],
        ['NR_CPUS', '4', 6],
      ],
    );
  });

  it('rejects lines that are not options, naming file and line', () => {
    assert.throws(
      () => parseFragment('CONFIG_EPOLL=y\nEPOLL=y\n', 'mine.config'),
      (error: unknown) => error instanceof Gopid1Error && error.code === 'KCONFIG_REJECTED' && error.logTail.some((l) => l.startsWith('mine.config:2:')),
    );
  });

  const containerParity = ['NET', 'INET', 'IPV6', 'UNIX', 'BINFMT_SCRIPT', 'MULTIUSER'];
  const minimalNeeds: Record<string, string[]> = {
    'minimal.config': ['64BIT', 'BLK_DEV_INITRD', 'BINFMT_ELF', 'FUTEX', 'EPOLL', 'EVENTFD', 'SERIAL_8250_CONSOLE', 'PROC_FS', 'SYSFS', 'DEVTMPFS', 'TMPFS', 'PCI', 'ACPI', ...containerParity],
    'minimal-arm64.config': ['64BIT', 'BLK_DEV_INITRD', 'BINFMT_ELF', 'FUTEX', 'EPOLL', 'EVENTFD', 'SERIAL_AMBA_PL011_CONSOLE', 'PROC_FS', 'SYSFS', 'DEVTMPFS', 'TMPFS', 'ARM_PSCI_FW', ...containerParity],
  };
  for (const [fragment, needs] of Object.entries(minimalNeeds)) {
    it(`the shipped ${fragment} parses and asks for what a Go PID 1 and container parity need`, () => {
      const text = readFileSync(path.join(dockerfilesDir, 'kernel', 'fragments', fragment), 'utf8');
      const names = parseFragment(text, fragment).map((o) => o.name);
      for (const needed of needs) assert.ok(names.includes(needed), `${fragment} lacks CONFIG_${needed}`);
    });
  }
});

describe('config verification after olddefconfig', () => {
  const final = parseConfig('CONFIG_EPOLL=y\nCONFIG_PCI=y\n# CONFIG_NET_CORE is not set\nCONFIG_CMDLINE="a b"\n');

  it('passes when every request survived (unset counts as n)', () => {
    const requested = parseFragment('CONFIG_EPOLL=y\n# CONFIG_MODULES is not set\nCONFIG_CMDLINE="a b"\n', 'f');
    assert.deepEqual(verifyConfig(requested, final, facts), []);
  });

  it('names the unmet dependency of a dropped option', () => {
    const problems = verifyConfig(parseFragment('CONFIG_VIRTIO_NET=y\n', 'net.config'), final, facts);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.actual, 'n');
    assert.match(problems[0]?.reason ?? '', /missing dependency/);
    assert.match(problems[0]?.reason ?? '', /CONFIG_NETDEVICES/);
    assert.match(problems[0]?.reason ?? '', /CONFIG_NET_CORE/);
    assert.doesNotMatch(problems[0]?.reason ?? '', /CONFIG_PCI\b/, 'PCI is set, so it is not listed as missing');
  });

  it('says when an option does not exist in this kernel', () => {
    const problems = verifyConfig(parseFragment('CONFIG_NO_SUCH_THING=y\n', 'f'), final, facts);
    assert.match(problems[0]?.reason ?? '', /unknown option/);
  });

  it('explains =m on a kernel without modules', () => {
    const problems = verifyConfig(parseFragment('CONFIG_EPOLL=m\n', 'f'), final, facts);
    assert.match(problems[0]?.reason ?? '', /CONFIG_MODULES/);
  });

  it('lets a later fragment override an earlier one', () => {
    const requested = [...parseFragment('CONFIG_EXT4_FS=y\n', 'a'), ...parseFragment('# CONFIG_EXT4_FS is not set\n', 'b')];
    assert.deepEqual(verifyConfig(requested, final, facts), []);
  });

  it('turns problems into one error listing each option with its fragment line', () => {
    const error = configProblemsError(verifyConfig(parseFragment('CONFIG_VIRTIO_NET=y\nCONFIG_EXT4_FS=y\n', 'net.config'), final, facts), '/tmp/kernel.log');
    assert.equal(error.code, 'KCONFIG_REJECTED');
    assert.match(error.message, /dropped 2 options/);
    assert.match(error.logTail[0] ?? '', /^CONFIG_VIRTIO_NET=y \(net\.config:1\) became unset: missing dependency/);
    assert.match(error.logTail[1] ?? '', /CONFIG_BLOCK/);
  });
});
