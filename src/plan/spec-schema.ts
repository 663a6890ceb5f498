import { formatNames } from '../outputs/table.js';
import { ARCHES, CLOUDS, DISK_BOOTS, INIT_MODES, INITRAMFS_COMPRESSIONS, KERNEL_COMPRESSIONS, KERNEL_CONFIG_BASES, PROFILES, RESTART_POLICIES } from './vocabulary.js';

/**
 * The JSON Schema of a machine spec (gopid1.yaml, gopid1.json, --spec FILE): the build options of the Node API
 * (BuildOptions, plan/plan.ts), but for where and how a build runs (app, out, force, cache). `gopid1 schema` prints
 * it, so editors can check a spec as it is written; ajv checks it before a build.
 */
const text = (description: string) => ({ type: 'string', description });
const whole = (description: string, minimum = 0) => ({ type: 'integer', minimum, description });
const number = (description: string, minimum = 0) => ({ type: 'number', minimum, description });
const flag = (description: string) => ({ type: 'boolean', description });
const oneOf = (values: readonly string[], description: string) => ({ type: 'string', enum: [...values], description });
const list = (description: string, items: Record<string, unknown> = { type: 'string' }) => ({ type: 'array', items, description });

export const SPEC_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'gopid1 machine spec',
  description: 'A machine gopid1 builds from a Go program: the build options of its Node API. Flags given to `gopid1 build` win over it.',
  type: 'object',
  additionalProperties: false,
  properties: {
    name: text('name of the machine (default: the app directory\'s name)'),
    arch: oneOf(ARCHES, 'architecture'),
    package: text('main package inside the module (default ".")'),
    kernelSource: text('debian:<series>, kernel.org:<version>, or a source tarball or tree (relative to the spec\'s directory)'),
    kernelConfig: oneOf(KERNEL_CONFIG_BASES, 'the kernel configuration to start from'),
    profile: oneOf(PROFILES, 'default: container parity (loopback TCP/IP, UNIX sockets, #! scripts); small: without them'),
    kernelFragments: list('kernel config fragments, applied last (paths relative to the spec\'s directory)'),
    kernelSha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'sha256 of a kernel.org tarball' },
    kernelCompression: oneOf(KERNEL_COMPRESSIONS, 'bzImage compression'),
    compress: oneOf(INITRAMFS_COMPRESSIONS, 'initramfs compression'),
    cmdline: text('extra kernel command line'),
    init: oneOf(INIT_MODES, 'who is PID 1: the program (direct) or gopid1\'s supervising init'),
    restart: oneOf(RESTART_POLICIES, 'start the program again when it ends'),
    restartMax: whole('restarts in a row before giving up (0: no limit)'),
    health: text('health check: an http:// URL on loopback'),
    healthCmd: text('health check: a command in the machine (absolute path and arguments)'),
    healthIntervalSeconds: whole('seconds between health checks', 1),
    healthTimeoutSeconds: whole('seconds a health check may take', 1),
    healthStartPeriodSeconds: whole('seconds after each start before the first check', 1),
    healthRetries: whole('failed checks in a row that make the program unhealthy', 1),
    watchdogSeconds: whole('a watchdog the supervising init feeds, with this timeout', 2),
    env: list('the program\'s default environment, KEY=VALUE each', { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*=' }),
    user: { type: 'string', pattern: '^\\d+(:\\d+)?$', description: 'run the program as UID or UID:GID' },
    dataDiskBytes: whole('a data disk of this many bytes, mounted on /data', 1),
    panicRebootSeconds: whole('reboot this long after a kernel panic'),
    net: flag('networking: IPv4, IPv6 and a virtio NIC in the kernel'),
    ip: text('a static IPv4 address, ADDR/PREFIX'),
    gateway: text('the default gateway of ip'),
    dns: list('DNS servers of ip (at most two)'),
    hostname: text('the machine\'s host name'),
    ip6: text('a static IPv6 address, ADDR/PREFIX'),
    gateway6: text('the default gateway of ip6'),
    cloud: oneOf(CLOUDS, 'a cloud\'s drivers in the kernel'),
    formats: list('output formats beyond kernel + initramfs', { type: 'string', enum: formatNames() }),
    iso: flag('same as formats: [iso]'),
    uefi: flag('same as formats: [iso-uefi]'),
    diskSizeBytes: whole('size of the disk formats in bytes', 1),
    boot: oneOf(DISK_BOOTS, 'what starts the disk formats'),
    menuTimeoutSeconds: whole('seconds GRUB shows its menu'),
    cgo: flag('allow cgo, linked fully static'),
    tags: list('Go build tags (go build -tags)'),
    strip: flag('strip symbol tables from the program'),
    jobs: whole('parallel kernel compile jobs', 1),
    cpus: number('CPUs each builder container may use', 0.1),
    memoryLimitBytes: whole('memory each builder container may use, in bytes', 1),
    sourceDateEpoch: whole('timestamp for reproducible output'),
  },
} as const;
