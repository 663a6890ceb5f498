import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CompareReport, type ContainerFigures, renderMarkdown, stats } from '../../src/compare/report.js';
import { renderSvg } from '../../src/compare/report-svg.js';
import { Gopid1Error } from '../../src/errors.js';

const MIB = 1024 * 1024;

function container(variant: string, imageBytes: number, startMs: number, memoryBytes: number, description = `FROM ${variant} + the static binary`): ContainerFigures {
  return {
    variant,
    description,
    imageBytes,
    savedBytes: imageBytes + 10_240,
    savedGzipBytes: Math.round(imageBytes * 0.45),
    startToFirstOutputMs: startMs,
    memoryBytes,
    startToFirstOutput: stats([startMs - 5, startMs, startMs + 7]),
    memory: stats([memoryBytes - 4096, memoryBytes, memoryBytes + 8192]),
  };
}

function report(overrides: Partial<CompareReport> = {}): CompareReport {
  return {
    app: 'hello',
    runs: 5,
    accel: 'tcg',
    accelReason: '/dev/kvm is not available',
    machine: { cpus: 4, cpuModel: 'Example CPU @ 2.40GHz', memoryBytes: 8 * 1024 * MIB, kernel: '6.1.0', docker: '27.3.1', qemu: '8.2.2' },
    measuredAt: '2025-01-02T03:04:05.000Z',
    vm: {
      kernelBytes: 1_000_000,
      initramfsBytes: 500_000,
      isoBytes: 6_000_000,
      bootToFirstOutputMs: 900,
      hostRssBytes: 60 * MIB,
      bootToFirstOutput: stats([850, 900, 1000]),
      hostRss: stats([58 * MIB, 60 * MIB, 61 * MIB]),
      guestMemoryNote: 'The guest has no procfs, so its own view of memory is not given.',
    },
    containers: [
      container('scratch', 1_200_000, 300, 4 * MIB),
      container('distroless', 3_000_000, 320, 5 * MIB),
      container('debian-slim', 80_000_000, 350, 6 * MIB),
      container('golang', 850_000_000, 400, 7 * MIB),
    ],
    ...overrides,
  };
}

/** A small XML well-formedness check: tags balance, attributes are quoted, text and attribute values are escaped. */
function assertWellFormed(doc: string): void {
  const tokens = doc.match(/<[^<>]*>|[^<]+/g) ?? [];
  assert.equal(tokens.join(''), doc, 'every "<" starts a complete tag');
  const stack: string[] = [];
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
  for (const token of tokens) {
    if (token.startsWith('<')) {
      const m = /^<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>$/.exec(token);
      assert.ok(m, `malformed tag: ${token}`);
      const [, closing, name = '', attrs = '', selfClosing] = m;
      assert.doesNotMatch(attrs.replace(entity, ''), /&/, `unescaped & in ${token}`);
      if (closing) assert.equal(stack.pop(), name, `unbalanced </${name}>`);
      else if (!selfClosing) stack.push(name);
    } else {
      assert.doesNotMatch(token.replace(entity, ''), /[&>]/, `unescaped text: ${token}`);
    }
  }
  assert.deepEqual(stack, [], 'all elements closed');
}

function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? '');
}

describe('stats', () => {
  it('takes the middle value of an odd count', () => {
    assert.deepEqual(stats([5, 1, 3]), { median: 3, min: 1, max: 5, samples: [5, 1, 3] });
    assert.equal(stats([7]).median, 7);
  });

  it('averages the two middle values of an even count', () => {
    const s = stats([10, 2, 4, 8]);
    assert.equal(s.median, 6);
    assert.equal(s.min, 2);
    assert.equal(s.max, 10);
    assert.equal(stats([1, 2]).median, 1.5);
  });

  it('does not reorder the samples it was given', () => {
    const input = [3, 1, 2];
    assert.deepEqual(stats(input).samples, [3, 1, 2]);
    assert.deepEqual(input, [3, 1, 2]);
  });

  it('throws on an empty list and on non-finite samples', () => {
    assert.throws(() => stats([]), (err: unknown) => err instanceof Gopid1Error && err.code === 'BAD_INPUT');
    assert.throws(() => stats([1, Number.NaN]), Gopid1Error);
  });
});

describe('compare markdown', () => {
  it('has the title, a VM row and one row per variant', () => {
    const md = renderMarkdown(report());
    assert.match(md, /^# gopid1 compare: hello\n/);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---') && !l.startsWith('| variant'));
    assert.equal(rows.length, 5);
    assert.match(rows[0] ?? '', /VM \(bzImage \+ initramfs\)/);
    for (const variant of ['scratch', 'distroless', 'debian-slim', 'golang']) {
      assert.ok(rows.some((r) => r.includes(`\`${variant}\``)), `row for ${variant}`);
    }
    assert.match(rows[0] ?? '', /1,500,000 B \(1\.43 MiB\)/, 'VM size is kernel + initramfs with separators and MiB');
    assert.match(rows[0] ?? '', /900 ms \(850–1,000\)/);
    assert.match(rows[0] ?? '', /60\.00 MiB .*QEMU host RSS/);
  });

  it('computes the size ratio column and the ratios against scratch from the inputs', () => {
    const md = renderMarkdown(report());
    const scratchRow = md.split('\n').find((l) => l.includes('`scratch`')) ?? '';
    assert.match(scratchRow, /\| 1\.25× \|$/, '1,500,000 / 1,200,000');
    assert.match(md, /## Ratios against scratch/);
    assert.match(md, /VM \/ scratch image = \*\*1\.25×\*\*/);
    assert.match(md, /VM boot \/ scratch start = \*\*3\.00×\*\*/, '900 ms / 300 ms');
    assert.match(md, /QEMU host RSS \/ scratch container memory = \*\*15\.00×\*\*/, '60 MiB / 4 MiB');
    const golangRow = md.split('\n').find((l) => l.includes('`golang`')) ?? '';
    assert.match(golangRow, /\| <0\.01× \|$/, 'a tiny ratio is not shown as 0.00×');
  });

  it('states the conditions, with the TCG caveat only under TCG', () => {
    const tcg = renderMarkdown(report());
    assert.match(tcg, /TCG/);
    assert.match(tcg, /software emulation, far slower than KVM/);
    assert.match(tcg, /pessimistic/);
    assert.match(tcg, /4 × Example CPU/);
    assert.match(tcg, /median of 5 runs/);
    assert.match(tcg, /2025-01-02/);
    assert.match(tcg, /vary between machines/);
    const kvm = renderMarkdown(report({ accel: 'kvm', accelReason: '/dev/kvm is usable' }));
    assert.match(kvm, /KVM/);
    assert.doesNotMatch(kvm, /pessimistic/);
  });

  it('shows the ISO only when there is one, then the chart and the guest memory note', () => {
    const md = renderMarkdown(report());
    assert.match(md, /ISO.*6,000,000 B/);
    assert.match(md, /!\[charts\]\(compare\.svg\)/);
    assert.match(md, /its own view of memory is not given/);
    const base = report();
    const noIso = renderMarkdown({ ...base, vm: { ...base.vm, isoBytes: null } });
    assert.doesNotMatch(noIso, /ISO/);
  });

  it('omits the scratch ratios when there is no scratch variant', () => {
    const base = report();
    const md = renderMarkdown({ ...base, containers: base.containers.filter((c) => c.variant !== 'scratch') });
    assert.doesNotMatch(md, /Ratios against scratch/);
  });

  it('never prints NaN, undefined or Infinity, even with zero figures', () => {
    const zero = container('scratch', 0, 0, 0);
    const base = report();
    const zeroed: CompareReport = {
      ...base,
      vm: { ...base.vm, kernelBytes: 0, initramfsBytes: 0, bootToFirstOutputMs: 0, hostRssBytes: 0 },
      containers: [{ ...zero, savedGzipBytes: 0 }, container('golang', 850_000_000, 400, 7 * MIB)],
    };
    for (const md of [renderMarkdown(base), renderMarkdown(zeroed)]) {
      assert.doesNotMatch(md, /NaN|undefined|Infinity/);
    }
    assert.match(renderMarkdown(zeroed), /= \*\*—\*\*/, 'a ratio over zero is shown as a dash');
  });

  it('names the architecture, and says why containers were not run, with dashes for what was not measured', () => {
    const base = report();
    const notRun = base.containers.map((c) => ({ ...c, startToFirstOutputMs: Number.NaN, memoryBytes: Number.NaN, startToFirstOutput: { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] }, memory: { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] } }));
    const md = renderMarkdown({ ...base, arch: 'arm64', containersNote: 'the engine is amd64 and cannot run linux/arm64 images', containers: notRun });
    assert.match(md, /^Architecture: \*\*arm64\*\* \(the machine and every image\)\.$/m);
    assert.match(md, /^Containers not run: the engine is amd64 and cannot run linux\/arm64 images$/m);
    assert.doesNotMatch(md, /NaN|undefined|Infinity/);
    assert.doesNotMatch(renderMarkdown(base), /Architecture:|Containers not run/);
  });

  it('keeps a pipe in a description from breaking the table', () => {
    const md = renderMarkdown(report({ containers: [container('odd', 1_000, 1, 1, 'a | b')] }));
    assert.match(md, /a \\\| b/);
  });
});

describe('compare SVG', () => {
  it('is one well-formed SVG document with a title and a caption', () => {
    const svg = renderSvg(report());
    assert.ok(svg.startsWith('<svg'));
    assert.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<title[^>]*>gopid1 compare: hello<\/title>/);
    assertWellFormed(svg.trim());
    const all = texts(svg);
    assert.ok(all.some((t) => t.includes('accel tcg') && t.includes('5 runs')), 'caption with accel and runs');
    for (const chart of ['Size (MiB)', 'Start → first output (ms, median)', 'Memory (MiB, median; VM = QEMU host RSS)']) {
      assert.ok(all.includes(chart), chart);
    }
  });

  it('has one bar per row per chart, the VM bar in its own colour, scaled to the largest value', () => {
    const r = report();
    const svg = renderSvg(r);
    const rects = [...svg.matchAll(/<rect\b[^>]*>/g)].map((m) => m[0]);
    assert.equal(rects.length, 3 * (1 + r.containers.length));
    const fills = rects.map((rect) => /fill="([^"]+)"/.exec(rect)?.[1]);
    const vmFill = fills[0];
    assert.equal(fills.filter((f) => f === vmFill).length, 3, 'exactly one VM bar per chart');
    const widths = rects.map((rect) => Number(/width="([^"]+)"/.exec(rect)?.[1]));
    const perChart = 1 + r.containers.length;
    const largest = [perChart - 1, 0, 0]; // golang's image; the VM's boot time and QEMU's RSS
    for (let c = 0; c < 3; c++) {
      const chart = widths.slice(c * perChart, (c + 1) * perChart);
      assert.equal(Math.max(...chart), chart[largest[c] ?? -1], `chart ${c} is scaled to its largest value`);
      assert.ok(chart.every((w) => w > 0 && w <= 760));
    }
    const boot = widths.slice(perChart, 2 * perChart);
    assert.ok(Math.abs((boot[1] ?? 0) / (boot[0] ?? 1) - 300 / 900) < 0.01, 'bars are proportional to their values');
    assert.ok(texts(svg).includes('810.62 MiB'), 'value label at the end of the bar');
  });

  it('escapes names in <text> and handles all-zero charts', () => {
    const base = report();
    const r: CompareReport = {
      ...base,
      app: 'x & "y"',
      vm: { ...base.vm, kernelBytes: 0, initramfsBytes: 0, bootToFirstOutputMs: 0, hostRssBytes: 0 },
      containers: [{ ...container('a<b&c', 0, 0, 0), description: "it's <odd>" }],
    };
    const svg = renderSvg(r);
    assertWellFormed(svg.trim());
    assert.ok(texts(svg).includes('a&lt;b&amp;c'));
    assert.doesNotMatch(svg, /a<b&c/);
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
    const rects = [...svg.matchAll(/<rect\b[^>]*>/g)].map((m) => m[0]);
    assert.equal(rects.length, 6);
    assert.ok(rects.every((rect) => rect.includes('width="0"')));
  });
});
