/** The SVG chart of a `gopid1 compare` report: pure, self-contained, every figure from the report passed in. */

import { DASH, finite, mib, ms, VM_LABEL, vmTotalBytes, type CompareReport } from './report.js';

/** Text safe inside an XML element or a double- or single-quoted attribute. */
function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Shortens a label to fit the label column (by code points, before escaping, so no entity is cut). */
function clip(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, ' ').trim()];
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

interface Bar {
  label: string;
  value: number;
  text: string;
  vm: boolean;
}

interface Chart {
  title: string;
  bars: Bar[];
}

const SVG_WIDTH = 760;
const PAD = 16;
const LABEL_WIDTH = 190;
const VALUE_WIDTH = 90;
const ROW = 22;
const BAR = 16;
const CHART_TITLE = 26;
const CHART_GAP = 18;
const HEADER = 34;
const FOOTER = 24;
const VM_COLOUR = '#d9480f';
const CONTAINER_COLOUR = '#1c7ed6';

/** Three horizontal bar charts (size, start → first output, memory) as one self-contained SVG document. */
export function renderSvg(report: CompareReport): string {
  const { vm } = report;
  const vmName = VM_LABEL;
  const mibText = (n: number): string => (finite(n) ? `${mib(n)} MiB` : DASH);
  const msText = (n: number): string => (finite(n) ? `${ms(n)} ms` : DASH);
  const charts: Chart[] = [
    {
      title: 'Size (MiB)',
      bars: [
        { label: vmName, value: vmTotalBytes(vm), text: mibText(vmTotalBytes(vm)), vm: true },
        ...report.containers.map((c) => ({ label: c.variant, value: c.imageBytes, text: mibText(c.imageBytes), vm: false })),
      ],
    },
    {
      title: 'Start → first output (ms, median)',
      bars: [
        { label: vmName, value: vm.bootToFirstOutputMs, text: msText(vm.bootToFirstOutputMs), vm: true },
        ...report.containers.map((c) => ({ label: c.variant, value: c.startToFirstOutputMs, text: msText(c.startToFirstOutputMs), vm: false })),
      ],
    },
    {
      title: 'Memory (MiB, median; VM = QEMU host RSS)',
      bars: [
        { label: vmName, value: vm.hostRssBytes, text: mibText(vm.hostRssBytes), vm: true },
        ...report.containers.map((c) => ({ label: c.variant, value: c.memoryBytes, text: mibText(c.memoryBytes), vm: false })),
      ],
    },
  ];

  const barX = PAD + LABEL_WIDTH;
  const barSpan = SVG_WIDTH - barX - VALUE_WIDTH - PAD;
  const rows = 1 + report.containers.length;
  const chartHeight = CHART_TITLE + rows * ROW;
  const height = HEADER + charts.length * chartHeight + (charts.length - 1) * CHART_GAP + FOOTER;
  const title = `gopid1 compare: ${report.app}`;
  const caption =
    `accel ${report.accel}${report.accel === 'tcg' ? ' (software emulation: VM boot times are pessimistic)' : ''}` +
    ` · median of ${report.runs} run${report.runs === 1 ? '' : 's'} · ${report.measuredAt}`;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG_WIDTH}" height="${height}" viewBox="0 0 ${SVG_WIDTH} ${height}" ` +
      `role="img" aria-labelledby="title" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12" fill="#212529">`,
    `<title id="title">${xml(title)}</title>`,
    `<text x="${PAD}" y="${PAD + 6}" font-size="15" font-weight="bold">${xml(clip(title, 90))}</text>`,
  );

  let y = HEADER;
  for (const chart of charts) {
    const values = chart.bars.map((b) => (finite(b.value) && b.value > 0 ? b.value : 0));
    const max = Math.max(0, ...values);
    out.push(`<g>`, `<text x="${PAD}" y="${y + 16}" font-size="13" font-weight="bold">${xml(chart.title)}</text>`);
    chart.bars.forEach((bar, i) => {
      const value = values[i] ?? 0;
      const width = max > 0 ? Math.round((value / max) * barSpan * 10) / 10 : 0;
      const top = y + CHART_TITLE + i * ROW;
      const mid = top + BAR / 2 + 4;
      out.push(
        `<text x="${barX - 8}" y="${mid}" text-anchor="end"${bar.vm ? ' font-weight="bold"' : ''}>${xml(clip(bar.label, 30))}</text>`,
        `<rect class="bar${bar.vm ? ' vm' : ''}" x="${barX}" y="${top}" width="${width}" height="${BAR}" rx="2" fill="${bar.vm ? VM_COLOUR : CONTAINER_COLOUR}"/>`,
        `<text x="${Math.round((barX + width + 6) * 10) / 10}" y="${mid}">${xml(bar.text)}</text>`,
      );
    });
    out.push(`</g>`);
    y += chartHeight + CHART_GAP;
  }

  out.push(`<text x="${PAD}" y="${height - 8}" font-size="11" fill="#6c757d">${xml(caption)}</text>`, `</svg>`, '');
  return out.join('\n');
}
