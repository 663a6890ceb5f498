/**
 * `make bench`: times each pipeline step as gopid1 runs it and as the blog ran it by hand, in the same
 * builder images on the same machine, and writes the figures to docs/PERFORMANCE.md.
 *
 *   BENCH_RUNS         runs of the fast steps (Go build, initramfs, boot), default 5
 *   BENCH_KERNEL_RUNS  runs of the cold kernel build (about 3 minutes each here), default 1
 *   BENCH_ONLY=formats only the disk formats' section (bench/formats.ts), updated in place
 *   BENCH_ONLY=arm64   only the arm64 section (bench/arm64.ts), updated in place
 *   BENCH_ONLY=profiles only container parity's cost (bench/profiles.ts), updated in place
 *   BENCH_ONLY=initcalls only the initcall profile (bench/initcalls.ts), updated in place
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { boot, build, compare, type Manifest } from '../src/index.js';
import { decompressorFragment } from '../src/kernel/fragments.js';
import type { InitramfsCompression, KernelCompression } from '../src/plan/vocabulary.js';
import { writeInitramfs } from '../src/initramfs/layout.js';
import { GO_CACHE_VOLUME } from '../src/go/go-build.js';
import { packageRoot } from '../src/paths.js';
import { resolveAccel, type MachineType } from '../src/qemu/command.js';
import { benchArm64 } from './arm64.js';
import { benchInitcalls } from './initcalls.js';
import { kernelByHand, median } from './stats.js';
import { benchProfiles } from './profiles.js';
import { benchFormats, withSection, type Cell } from './formats.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const kernelRuns = Number(process.env.BENCH_KERNEL_RUNS ?? 1);
const hello = path.join(packageRoot, 'examples', 'hello');
const fragment = path.join(packageRoot, 'dockerfiles', 'kernel', 'fragments', 'minimal.config');

interface Figure {
  step: string;
  tool: number[];
  hand: number[];
  toolHow: string;
  handHow: string;
}

/** A copy of `app` with one more file, different for each `nonce`: a build nobody has cached. */
function changedCopy(app: string, dir: string, nonce: number): string {
  cpSync(app, dir, { recursive: true });
  writeFileSync(path.join(dir, 'bench_nonce.go'), `package main\n\n// Written by make bench: this copy's own source.\nconst benchNonce = "${process.pid}-${nonce}"\n`);
  return dir;
}

/** A pipe inside a Markdown table cell ends the cell unless escaped. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

function cell(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const range = values.length > 1 ? ` (${seconds(Math.min(...values))}–${seconds(Math.max(...values))})` : '';
  return `${seconds(median(values))}${range}`;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

/** Time from spawning QEMU to the first line matching `pattern` on its stdout, then kill it. */
function firstLine(args: string[], pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ${pattern} within 120 s`));
    }, 120_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (pattern.test(buffer)) {
        const elapsed = performance.now() - start;
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(elapsed);
      }
    });
  });
}

/** A section's lines, or, when measuring it failed, its heading and why (the run goes on). */
async function sectionOrFailure(heading: string, measure: () => Promise<string[]>): Promise<string[]> {
  try {
    return await measure();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`section "${heading}" failed: ${message}`);
    return [`## ${heading}`, '', `Not measured: this run failed while measuring it (${escapeCell(message).replace(/\n/g, ' ')}).`, ''];
  }
}

async function machine(): Promise<string[]> {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const docker = (await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false })).stdout;
  const qemu = (await execa('qemu-system-x86_64', ['--version'], { reject: false })).stdout.split('\n')[0];
  const accel = await resolveAccel('auto');
  return [
    `- CPU: ${cpu}, ${os.availableParallelism()} cores; RAM ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Host: ${os.type()} ${os.release()}; Node ${process.version}; Docker engine ${docker}; ${qemu}`,
    `- QEMU accelerator: ${accel.accel} (${accel.reason})`,
  ];
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  const work = mkdtempSync(path.join(os.tmpdir(), 'gopid1-bench-'));

  // Warm-up: builder images exist and the Go cache volume is filled, so what follows measures steps, not downloads.
  log('warm-up build (builder images, Go cache)');
  const warm = await build({ app: hello, out: path.join(work, 'warm') });
  const manifest: Manifest = warm.manifest;
  const kernelImage = manifest.kernel.builder.id;
  const goImage = manifest.go.builder.id;
  const jobs = os.availableParallelism();

  // 1. Cold kernel build.
  const kernel: Figure = {
    step: 'cold kernel build (minimal)',
    tool: [],
    hand: [],
    toolHow: '`gopid1 build --no-cache`: kernel stage (configure, verify, compile, extract)',
    handHow: `\`docker run\` of the kernel builder: \`make tinyconfig\`, \`merge_config.sh\`, \`make olddefconfig\`, \`make -j${jobs} bzImage\``,
  };
  let cold: Awaited<ReturnType<typeof build>> | undefined;
  // The same fragments the tool applies: minimal.config, then the initramfs decompressor.
  const decompressor = path.join(work, 'decompressor.config');
  writeFileSync(decompressor, decompressorFragment(manifest.artifacts.initramfs.format.replace(/^newc\+/, '') as InitramfsCompression, 'minimal'));
  for (let i = 0; i < kernelRuns; i++) {
    log(`cold kernel build, gopid1 (${i + 1}/${kernelRuns})`);
    const result = await build({ app: hello, out: path.join(work, `kernel-${i}`), cache: false });
    cold ??= result;
    kernel.tool.push(result.durations.kernelMs);
    log(`cold kernel build, by hand (${i + 1}/${kernelRuns})`);
    kernel.hand.push(
      await timed(() =>
        execa('docker', [
          'run', '--rm', '--network', 'none', '-v', `${fragment}:/frag.config:ro`, '-v', `${decompressor}:/rd.config:ro`, kernelImage, 'bash', '-c',
          kernelByHand(jobs, 'ls -l /work/b/arch/x86/boot/bzImage'),
        ]),
      ),
    );
  }
  figures.push(kernel);

  // 2. Go build (warm module/build cache volume for both).
  const go: Figure = {
    step: 'Go build of examples/hello',
    tool: [],
    hand: [],
    toolHow: '`gopid1 build` Go stage (hash the source, copy it in, build, copy out, ELF check, keep in the cache) of hello with one new file; kernel from the cache',
    handHow: '`docker run` of the Go builder with the same app bind-mounted: `go build -trimpath -ldflags=-s -w`',
  };
  for (let i = 0; i < runs; i++) {
    log(`Go build (${i + 1}/${runs})`);
    // A copy of hello with a file of its own, so neither gopid1's cache nor Go's serves the main package: both sides compile it.
    const app = changedCopy(hello, path.join(work, `go-app-${i}`), i);
    const result = await build({ app, out: path.join(work, `go-${i}`) });
    go.tool.push(result.durations.goMs);
    const out = path.join(work, `go-hand-${i}`);
    mkdirSync(out);
    chmodSync(out, 0o777); // the Go builder runs as its unprivileged user
    go.hand.push(
      await timed(() =>
        execa('docker', [
          'run', '--rm', '--network', 'none', '-v', `${GO_CACHE_VOLUME}:/cache`, '-v', `${app}:/app:ro`, '-v', `${out}:/out`,
          '-e', 'CGO_ENABLED=0', '-e', 'GOAMD64=v1', '-w', '/app', goImage,
          'go', 'build', '-trimpath', '-ldflags=-buildid= -s -w', '-o', '/out/init', '.',
        ]),
      ),
    );
  }
  figures.push(go);

  // 3. initramfs.
  const init = path.join(warm.outDir, 'init');
  const initramfs: Figure = {
    step: 'initramfs (newc + gzip -9)',
    tool: [],
    hand: [],
    toolHow: 'gopid1\'s TypeScript newc writer + zlib',
    handHow: 'the blog\'s `find . | cpio -o -H newc | gzip -9` on a staged root with `mknod` device nodes',
  };
  for (let i = 0; i < runs; i++) {
    initramfs.tool.push(await timed(() => writeInitramfs({ init, hostname: 'hello' }, path.join(work, `rd-${i}.cpio.gz`), manifest.sourceDateEpoch)));
    const root = path.join(work, `root-${i}`);
    initramfs.hand.push(
      await timed(() =>
        execa('sh', [
          '-c',
          `set -e; mkdir -p ${root}/dev ${root}/proc ${root}/sys ${root}/tmp ${root}/etc; cp ${init} ${root}/init; ` +
            `mknod ${root}/dev/console c 5 1; mknod ${root}/dev/null c 1 3; cd ${root}; find . | sort | cpio -o -H newc --quiet | gzip -9n > ${root}.cpio.gz`,
        ]),
      ),
    );
  }
  figures.push(initramfs);

  // 4. Warm builds of an unchanged app, without and with the ISO: kernel, Go and initramfs from the cache.
  const warmFigure = async (step: string, toolHow: string, options: { out: string; iso?: boolean }): Promise<Figure> => {
    const figure: Figure = { step, tool: [], hand: [], toolHow, handHow: 'n/a' };
    await build({ app: hello, ...options }); // the first build fills what the others find
    for (let i = 0; i < runs; i++) {
      log(`${step} (${i + 1}/${runs})`);
      figure.tool.push((await build({ app: hello, ...options })).durations.totalMs);
    }
    figures.push(figure);
    return figure;
  };
  const warmBuild = await warmFigure('warm `build`, nothing changed', '`gopid1 build examples/hello` again: kernel, program, supervising init and compressed initramfs from the cache (no container)', { out: path.join(work, 'warm') });
  const warmIso = await warmFigure('warm `build --iso`, nothing changed', '`gopid1 build examples/hello --iso` again: kernel, program and initramfs from the cache, the ISO mastered again', { out: path.join(work, 'iso-warm'), iso: true });

  // 5. Boot to the first line.
  const bootFigure: Figure = {
    step: 'QEMU start → first program line',
    tool: [],
    hand: [],
    toolHow: '`gopid1 boot --expect` (‑nodefaults, `quiet`, serial on a pipe, console watcher)',
    handHow: 'the blog\'s `qemu-system-x86_64 -kernel -initrd -append console=ttyS0 -nographic`, same accelerator',
  };
  const accel = (await resolveAccel('auto')).accel;
  for (let i = 0; i < runs; i++) {
    log(`boot (${i + 1}/${runs})`);
    const result = await boot({ dir: warm.outDir, expect: /Hello from Golang/, timeoutSeconds: 120 });
    bootFigure.tool.push(result.firstLineMs ?? result.expectMs ?? result.durationMs);
    bootFigure.hand.push(
      await firstLine(
        ['-accel', accel, '-m', String(result.memoryMiB), '-kernel', path.join(warm.outDir, 'bzImage'), '-initrd', path.join(warm.outDir, manifest.artifacts.initramfs.file),
          '-append', 'console=ttyS0 panic=-1', '-nographic', '-no-reboot'],
        /Hello from Golang/,
      ),
    );
  }
  figures.push(bootFigure);

  // 6. Machine types and firmware: the same kernel and initramfs, QEMU start to the first line; boots that never
  //    get there (20 s, some fifteen times a normal boot) are counted, not timed.
  const machineRuns = runs * 4;
  const setups: { label: string; machine: MachineType; qboot: boolean; ms: number[]; hung: number }[] = [
    { label: '`pc` + qboot (default)', machine: 'pc', qboot: true, ms: [], hung: 0 },
    { label: '`pc` + SeaBIOS', machine: 'pc', qboot: false, ms: [], hung: 0 },
    { label: '`q35` + qboot', machine: 'q35', qboot: true, ms: [], hung: 0 },
    { label: '`microvm`', machine: 'microvm', qboot: false, ms: [], hung: 0 },
  ];
  const qbootSetting = process.env.GOPID1_QBOOT;
  for (let i = 0; i < machineRuns; i++) {
    for (const setup of setups) {
      log(`boot on ${setup.label} (${i + 1}/${machineRuns})`);
      if (setup.qboot) {
        if (qbootSetting === undefined) delete process.env.GOPID1_QBOOT;
        else process.env.GOPID1_QBOOT = qbootSetting;
      } else {
        process.env.GOPID1_QBOOT = '';
      }
      try {
        const result = await boot({ dir: warm.outDir, machine: setup.machine, expect: /Hello from Golang/, timeoutSeconds: 20 });
        setup.ms.push(result.firstLineMs ?? result.durationMs);
      } catch (error) {
        if ((error as { code?: string }).code !== 'BOOT_TIMEOUT') throw error;
        setup.hung += 1;
      }
    }
  }
  if (qbootSetting === undefined) delete process.env.GOPID1_QBOOT;
  else process.env.GOPID1_QBOOT = qbootSetting;

  // 6b. Kernel compression: bzImage size against the boot (zstd is the minimal default; the others are built once).
  const compressions: { method: KernelCompression; bytes: number; ms: number[] }[] = [];
  for (const method of ['zstd', 'xz', 'gzip'] as KernelCompression[]) {
    log(`kernel compressed with ${method}`);
    const built = await build({ app: hello, out: path.join(work, `compress-${method}`), kernelCompression: method });
    const entry = { method, bytes: built.manifest.artifacts.bzImage.bytes, ms: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const result = await boot({ dir: built.outDir, expect: /Hello from Golang/, timeoutSeconds: 60 });
      entry.ms.push(result.firstLineMs ?? result.durationMs);
    }
    compressions.push(entry);
  }

  // 6c. initramfs compression (zstd is the default; each other one is a kernel with its decompressor, built once),
  //     and the smallest machine gopid1 makes: xz for both.
  const initramfsCompressions: { label: string; compress: InitramfsCompression; kernelCompression?: KernelCompression; initramfsBytes: number; vmBytes: number; ms: number[]; unpackMs: number[] }[] = [];
  for (const [label, compress, kernelCompression] of [
    ['`zstd` (default)', 'zstd'],
    ['`xz`', 'xz'],
    ['`gzip`', 'gzip'],
    ['`xz` + `--kernel-compression xz` (smallest)', 'xz', 'xz'],
  ] as [string, InitramfsCompression, KernelCompression?][]) {
    log(`initramfs compressed with ${label}`);
    const built = await build({ app: hello, out: path.join(work, `initramfs-${compress}-${kernelCompression ?? 'default'}`), compress, ...(kernelCompression ? { kernelCompression } : {}) });
    const { bzImage, initramfs } = built.manifest.artifacts;
    const entry = { label, compress, ...(kernelCompression ? { kernelCompression } : {}), initramfsBytes: initramfs.bytes, vmBytes: bzImage.bytes + initramfs.bytes, ms: [] as number[], unpackMs: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const result = await boot({ dir: built.outDir, expect: /Hello from Golang/, timeoutSeconds: 60 });
      entry.ms.push(result.firstLineMs ?? result.durationMs);
      // The kernel's own clock when the initramfs is unpacked ("Freeing initrd memory"), in a separate traced boot:
      // the same kernel work comes before it, so the differences between compressions are the unpacking.
      const traced = await boot({ dir: built.outDir, cmdline: 'loglevel=7', expect: /Hello from Golang/, timeoutSeconds: 60 });
      const unpacked = /^\[\s*(\d+\.\d+)\] Freeing initrd memory/m.exec(readFileSync(traced.serialLog, 'utf8'));
      if (unpacked) entry.unpackMs.push(Number(unpacked[1]) * 1000);
    }
    initramfsCompressions.push(entry);
  }

  // 7. Where the time goes (default machine): the console shows kernel info messages with loglevel=7, whose
  //    timestamps place the kernel's start and its handover to /init; printing them costs a little.
  const timeline = { kernelStart: [] as number[], init: [] as number[], first: [] as number[] };
  for (let i = 0; i < runs; i++) {
    log(`traced boot (${i + 1}/${runs})`);
    const result = await boot({ dir: warm.outDir, cmdline: 'loglevel=7', expect: /Hello from Golang/, timeoutSeconds: 120 });
    if (result.kernelStartMs !== undefined) timeline.kernelStart.push(result.kernelStartMs);
    if (result.initMs !== undefined) timeline.init.push(result.initMs);
    if (result.firstLineMs !== undefined) timeline.first.push(result.firstLineMs);
  }

  // 8. Against `docker run` of the FROM-scratch image of the same binary, in the same invocation.
  log(`compare with the scratch image (${runs} runs)`);
  const against = await compare({ app: hello, out: path.join(work, 'compare'), variants: ['scratch'], runs });
  const scratch = against.report.containers[0];
  if (!scratch) throw new Error('compare measured no scratch image');

  // 8b. Each disk format's step and first line; 8c. arm64 beside amd64. A section that fails says so, and the figures
  //     measured before it are still written.
  const formats = await sectionOrFailure('Disk formats', () => benchFormats(work, runs, cell, log));
  const arm64 = await sectionOrFailure('arm64', () => benchArm64(work, runs, cell, log));
  const profiles = await sectionOrFailure('Container parity (`--profile`)', () => benchProfiles(work, runs, cell, log));
  const initcalls = await sectionOrFailure('Initcalls (default machine, `initcall_debug loglevel=8`)', () => benchInitcalls(work, runs, cell, log));

  // 9. Kernel and Go at the same time: the cold build's total against the sum of its stages.
  if (!cold) throw new Error('BENCH_KERNEL_RUNS must be at least 1');

  const sizes = manifest.artifacts;
  const smallest = initramfsCompressions.find((c) => c.kernelCompression === 'xz');
  if (!smallest) throw new Error('the smallest machine was not measured');
  const vmBytes = sizes.bzImage.bytes + sizes.initramfs.bytes;
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);
  // The smallest documented profile (its kernel from the cache of the profiles section).
  const small = (await build({ app: hello, out: path.join(work, 'small'), profile: 'small' })).manifest.artifacts;
  const smallBytes = small.bzImage.bytes + small.initramfs.bytes;
  // Issue 19's targets (performance round 2).
  const targets: [string, string, string, boolean][] = [
    ['bzImage + initramfs, default machine', '≤ 1.8 MB (1,800,000 B)', `${vmBytes.toLocaleString('en-US')} B (xz for both: ${smallest.vmBytes.toLocaleString('en-US')} B)`, vmBytes <= 1_800_000],
    ['bzImage + initramfs, smallest profile (`--profile small`)', '≤ 1.5 MB (1,500,000 B)', `${smallBytes.toLocaleString('en-US')} B`, smallBytes <= 1_500_000],
    ['VM bytes / FROM-scratch image bytes', '≤ 1.25×', `${ratio(vmBytes, scratch.imageBytes)}× (${scratch.imageBytes.toLocaleString('en-US')} B image)`, vmBytes / scratch.imageBytes <= 1.25],
    ['QEMU start → first program line, TCG (default machine, pc)', '≤ 0.5 s', `${seconds(median(bootFigure.tool))} s`, median(bootFigure.tool) <= 500],
    ['same, as a ratio to `docker run` of the scratch image', '≤ 3×', `${ratio(against.report.vm.bootToFirstOutputMs, scratch.startToFirstOutputMs)}× (${seconds(against.report.vm.bootToFirstOutputMs)} s vs ${seconds(scratch.startToFirstOutputMs)} s)`, against.report.vm.bootToFirstOutputMs / scratch.startToFirstOutputMs <= 3],
    ['warm `build` of an unchanged app', '≤ 1.0 s', `${seconds(median(warmBuild.tool))} s`, median(warmBuild.tool) <= 1000],
    ['warm `build --iso` of an unchanged app', '≤ 1.5 s', `${seconds(median(warmIso.tool))} s`, median(warmIso.tool) <= 1500],
    ['cold kernel build / the same `make` by hand in the same builder container', '≤ 1.05×', `${ratio(median(kernel.tool), median(kernel.hand))}×`, median(kernel.tool) / median(kernel.hand) <= 1.05],
    ['kernel and Go stages', 'concurrent when both are needed', `cold build total ${seconds(cold.durations.totalMs)} s; kernel ${seconds(cold.durations.kernelMs)} s + Go ${seconds(cold.durations.goMs)} s run side by side`, cold.durations.totalMs < cold.durations.kernelMs + cold.durations.goMs],
  ];
  const rows = figures.map((f) => `| ${f.step} | ${cell(f.tool)} | ${cell(f.hand)} | ${f.tool.length}/${f.hand.length} |`);
  const doc = [
    '# Performance',
    '',
    'Written by `make bench` (bench/run.ts), which reproduces it; every figure below was measured by that run, on this machine:',
    '',
    ...(await machine()),
    `- Date: ${new Date().toISOString()}`,
    '',
    '## Pipeline steps: gopid1 against the same step done by hand',
    '',
    'Seconds, median (min–max) over the runs shown. Both columns use the same builder images and caches.',
    '',
    '| step | gopid1 | by hand | runs |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
    '| step | gopid1 does | by hand is |',
    '|---|---|---|',
    ...figures.map((f) => `| ${f.step} | ${escapeCell(f.toolHow)} | ${escapeCell(f.handHow)} |`),
    '',
    '## Targets (hello example, minimal kernel)',
    '',
    `Medians of ${runs} runs (kernel builds: ${kernelRuns}), measured by this run.`,
    '',
    '| figure | target | measured | met |',
    '|---|---|---|---|',
    ...targets.map(([figure, goal, measured, met]) => `| ${escapeCell(figure)} | ${goal} | ${escapeCell(measured)} | ${met ? 'yes' : '**no**'} |`),
    '',
    '### Why the distance where a target is not met',
    '',
    '- **Size.** The Go program alone is most of a FROM-scratch image; the kernel has to add a serial console, printk,',
    '  ACPI and PCI (so the machine can power itself off and hear the power button), proc/sys/devtmpfs/tmpfs and the',
    '  Go runtime\'s syscalls. The default compresses the kernel with zstd rather than xz: the table below shows xz is',
    '  smaller but slower to unpack at every boot, and the same holds for the initramfs ("initramfs compression" below).',
    `  Even xz for both leaves the kernel at ${(smallest.vmBytes - smallest.initramfsBytes).toLocaleString('en-US')} B on its own${smallest.vmBytes - smallest.initramfsBytes > 1_800_000 ? ', above the whole target' : ''}.`,
    '  The default kernel carries container parity (TCP/IP and UNIX sockets for loopback, `#!` scripts: "Container',
    '  parity" below says what it costs); `--profile small` leaves it out.',
    '- **Boot under TCG.** Everything runs in software emulation here (no vmx/svm). "Where the boot time goes" splits',
    '  the time: QEMU and firmware start-up plus the kernel\'s decompression before the kernel clock starts, kernel',
    '  initialisation to /init, then the Go runtime to its first line. `microvm` starts sooner but is not reliable',
    '  here (the hung column), so `pc` stays the default. With KVM every figure shrinks; the ratio to `docker run` is',
    '  dominated by emulating a whole machine in software.',
    `- **Kernel build.** gopid1 configures and compiles in two containers sharing a volume, checks every requested`,
    `  option after olddefconfig, and copies bzImage out through the Docker API; by hand it is one \`docker run\` doing`,
    `  make. Under \`--no-cache\` the Go stage also compiles from nothing (the standard library included) at the same`,
    `  time, on the same two cores. ${kernelRuns} run(s) each, on a shared VM whose timing noise is of the order of the`,
    `  5% target.`,
    '',
    '## Machine types and firmware',
    '',
    `QEMU start → first program line, seconds, median (min–max) of the boots that got there; same kernel, initramfs and`,
    `accelerator, ${machineRuns} boots each, interleaved. A boot that printed nothing within 20 s counts as hung.`,
    '',
    '| machine | first line | hung |',
    '|---|---:|---:|',
    ...setups.map((setup) => `| ${setup.label} | ${cell(setup.ms)} | ${setup.hung} of ${machineRuns} |`),
    '',
    '## Kernel compression',
    '',
    `bzImage bytes and QEMU start → first program line (default machine), seconds, median (min–max) of ${runs} boots.`,
    '',
    '| `--kernel-compression` | bzImage bytes | first line |',
    '|---|---:|---:|',
    ...compressions.map((c) => `| \`${c.method}\`${c.method === 'zstd' ? ' (default)' : ''} | ${c.bytes} | ${cell(c.ms)} |`),
    '',
    '## initramfs compression',
    '',
    `initramfs and machine bytes; QEMU start → first program line; and when the kernel had unpacked the initramfs by`,
    `its own clock ("Freeing initrd memory", in a second boot with \`loglevel=7\`: the same work comes before it, so the`,
    `differences are the unpacking). Seconds, median (min–max) of ${runs} boots each. Each compression is a kernel`,
    'with that decompressor.',
    '',
    '| `--compress` | initramfs bytes | bzImage + initramfs | first line | initramfs unpacked (kernel clock) |',
    '|---|---:|---:|---:|---:|',
    ...initramfsCompressions.map((c) => `| ${c.label} | ${c.initramfsBytes} | ${c.vmBytes} | ${cell(c.ms)} | ${cell(c.unpackMs)} |`),
    '',
    '## Where the boot time goes (default machine, `--cmdline loglevel=7`)',
    '',
    'From QEMU\'s start, seconds, median (min–max). The kernel\'s start and its handover to /init come from printk',
    'timestamps; printing the messages makes this boot a little slower than the quiet one above.',
    '',
    '| point | since QEMU start |',
    '|---|---:|',
    `| kernel clock starts (QEMU, firmware, loading, decompression before it) | ${cell(timeline.kernelStart)} |`,
    `| kernel runs /init | ${cell(timeline.init)} |`,
    `| program's first line | ${cell(timeline.first)} |`,
    '',
    '## Sizes of examples/hello (minimal kernel)',
    '',
    '| artifact | bytes |',
    '|---|---:|',
    `| bzImage (Linux ${manifest.kernel.release}) | ${sizes.bzImage.bytes} |`,
    `| init (static Go binary, ${manifest.go.version.split(' ')[0]}) | ${sizes.init.bytes} |`,
    `| ${sizes.initramfs.file} | ${sizes.initramfs.bytes} |`,
    `| bzImage + initramfs | ${sizes.bzImage.bytes + sizes.initramfs.bytes} |`,
    '',
    ...formats,
    ...arm64,
    ...profiles,
    ...initcalls,
  ].join('\n');
  const target = path.join(packageRoot, 'docs', 'PERFORMANCE.md');
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, doc);
  process.stdout.write(`${doc}\n`);
  log(`written to ${target}`);
}

/** BENCH_ONLY=formats, arm64, profiles or initcalls: measure that section alone and replace it in docs/PERFORMANCE.md. */
async function sectionOnly(measure: (work: string, runs: number, cell: Cell, log: (text: string) => void) => Promise<string[]>): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'gopid1-bench-'));
  const section = await measure(work, runs, cell, log);
  const target = path.join(packageRoot, 'docs', 'PERFORMANCE.md');
  writeFileSync(target, withSection(readFileSync(target, 'utf8'), section));
  process.stdout.write(`${section.join('\n')}\n`);
  log(`section "${section[0]?.replace(/^## /, '')}" of ${target} updated`);
}

const SECTIONS: Record<string, typeof benchFormats> = { formats: benchFormats, arm64: benchArm64, profiles: benchProfiles, initcalls: benchInitcalls };
const only = process.env.BENCH_ONLY;
if (only !== undefined && !(only in SECTIONS)) {
  process.stderr.write(`bench: BENCH_ONLY=${only} is not a section; use one of ${Object.keys(SECTIONS).join(', ')}\n`);
  process.exit(2);
}

// Exit explicitly: connections to the Docker engine must not keep the process alive.
(only !== undefined ? sectionOnly(SECTIONS[only] as typeof benchFormats) : main()).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
