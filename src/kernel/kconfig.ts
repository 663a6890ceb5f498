import { Gopid1Error } from '../errors.js';

/** One option a fragment asks for. `value` is "y", "m", "n" (also for "# CONFIG_X is not set"), a number or a quoted string. */
export interface RequestedOption {
  name: string;
  value: string;
  /** The fragment it came from, and its line, for messages. */
  file: string;
  line: number;
}

/** Where Kconfig defines each requested symbol and what it depends on, as the kernel builder reports it. */
export interface KconfigFacts {
  defined: Map<string, string[]>;
  depends: Map<string, string[]>;
}

export interface ConfigProblem {
  option: RequestedOption;
  /** The value after olddefconfig ("n" when unset). */
  actual: string;
  reason: string;
}

const SET = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^# CONFIG_([A-Za-z0-9_]+) is not set$/;

/** Parses a config fragment; any line that is neither an option, a comment nor blank is an error. */
export function parseFragment(text: string, file: string): RequestedOption[] {
  const options: RequestedOption[] = [];
  const bad: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const set = SET.exec(line);
    const unset = UNSET.exec(line);
    if (set) {
      const value = (set[2] ?? '').trim();
      if (value === '') bad.push(`${file}:${index + 1}: CONFIG_${set[1]} has no value`);
      else options.push({ name: set[1] ?? '', value, file, line: index + 1 });
    } else if (unset) {
      options.push({ name: unset[1] ?? '', value: 'n', file, line: index + 1 });
    } else if (line !== '' && !line.startsWith('#')) {
      bad.push(`${file}:${index + 1}: ${line}`);
    }
  });
  if (bad.length > 0) {
    throw new Gopid1Error('KCONFIG_REJECTED', `kernel config fragment ${file} has lines that are not options`, {
      logTail: bad,
      hint: 'Each line must be CONFIG_NAME=value, "# CONFIG_NAME is not set", a comment, or blank.',
    });
  }
  return options;
}

/** The final `.config`: option name (without CONFIG_) → value; unset options are absent. */
export function parseConfig(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const set = SET.exec(raw.trim());
    if (set) values.set(set[1] ?? '', (set[2] ?? '').trim());
  }
  return values;
}

/** How a final .config compresses bzImage ("zstd", "xz", "gzip", …), or "unknown". */
export function kernelCompressionOf(configText: string): string {
  const config = parseConfig(configText);
  const method = ['GZIP', 'XZ', 'ZSTD', 'LZ4', 'LZO', 'LZMA', 'BZIP2'].find((name) => config.get(`CONFIG_KERNEL_${name}`) === 'y');
  return method?.toLowerCase() ?? 'unknown';
}

/** Parses the builder's "SYMBOL<TAB>defined|depends<TAB>text" report. */
export function parseKconfigFacts(text: string): KconfigFacts {
  const facts: KconfigFacts = { defined: new Map(), depends: new Map() };
  for (const line of text.split('\n')) {
    const [symbol, kind, detail] = line.split('\t');
    if (!symbol || !detail) continue;
    const table = kind === 'defined' ? facts.defined : kind === 'depends' ? facts.depends : undefined;
    if (!table) continue;
    table.set(symbol, [...(table.get(symbol) ?? []), detail]);
  }
  return facts;
}

/** The last request per symbol wins, as in merge_config.sh. */
export function effectiveRequests(options: RequestedOption[]): RequestedOption[] {
  const last = new Map<string, RequestedOption>();
  for (const option of options) last.set(option.name, option);
  return [...last.values()];
}

function symbolsIn(expression: string): string[] {
  return [...new Set(expression.match(/\b[A-Z][A-Z0-9_]*\b/g) ?? [])].filter((symbol) => !['y', 'm', 'n'].includes(symbol));
}

function explain(option: RequestedOption, final: Map<string, string>, facts: KconfigFacts): string {
  if (!facts.defined.has(option.name)) return 'unknown option: no Kconfig file of this kernel defines it (misspelt, or removed in this version)';
  if (option.value === 'm' && final.get('MODULES') !== 'y') return '=m needs CONFIG_MODULES=y; the PID 1 image has no modules, use =y';
  const depends = facts.depends.get(option.name) ?? [];
  if (depends.length === 0) {
    return 'Kconfig did not keep it: it has no plain "depends on", so it is probably selected by another option, chosen in a choice, or inside an "if" block';
  }
  const unmet = [...new Set(depends.flatMap(symbolsIn))].filter((symbol) => !final.has(symbol) || final.get(symbol) === 'n');
  const clause = depends.map((d) => `depends on ${d}`).join('; ');
  return unmet.length > 0
    ? `missing dependency: ${clause} (not set here: ${unmet.map((s) => `CONFIG_${s}`).join(', ')})`
    : `Kconfig did not keep it (${clause})`;
}

/** Compares what the fragments asked for with the final configuration; one problem per option Kconfig dropped or changed. */
export function verifyConfig(requested: RequestedOption[], final: Map<string, string>, facts: KconfigFacts): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const option of effectiveRequests(requested)) {
    const actual = final.get(option.name) ?? 'n';
    if (actual === option.value) continue;
    problems.push({ option, actual, reason: explain(option, final, facts) });
  }
  return problems;
}

export function configProblemsError(problems: ConfigProblem[], logFile: string): Gopid1Error {
  return new Gopid1Error('KCONFIG_REJECTED', `the kernel configuration dropped ${problems.length} option${problems.length === 1 ? '' : 's'} the fragments ask for`, {
    step: 'kernel: configure',
    logFile,
    logTail: problems.map(
      (p) => `CONFIG_${p.option.name}=${p.option.value} (${p.option.file}:${p.option.line}) became ${p.actual === 'n' ? 'unset' : p.actual}: ${p.reason}`,
    ),
    hint: 'Add the missing dependencies to your fragment (or remove the option), then build again.',
  });
}
