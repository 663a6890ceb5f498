import type { Command } from 'commander';
import ora, { type Ora } from 'ora';
import type { ProgressEvent, Stage } from '../index.js';
import { globalFlags } from './context.js';
import { outputMode, type OutputMode } from './output.js';

const PLAIN_COUNT_INTERVAL_MS = 15_000;

/**
 * Renders stage events: on a terminal one spinner whose text lists every running stage with its live
 * counter, and a ✔ line per finished stage; when piped, plain lines (counters every 15 s); nothing with --json.
 * With `verbose`, builder output lines go to stderr as well.
 */
export class ProgressView {
  private readonly active = new Map<Stage, string>();
  private readonly spinner: Ora | undefined;
  private lastPlainCount = 0;

  constructor(
    private readonly mode: OutputMode,
    private readonly verbose: boolean,
  ) {
    if (mode === 'tty') this.spinner = ora({ stream: process.stderr, discardStdin: false });
  }

  readonly onEvent = (event: ProgressEvent): void => {
    if (this.mode === 'json') return;
    switch (event.kind) {
      case 'line':
        if (this.verbose) this.print(`  ${event.stage}| ${event.line}`);
        return;
      case 'warning':
        this.print(`${event.stage}: warning: ${event.text}`);
        return;
      case 'step':
        this.active.set(event.stage, event.text);
        if (this.mode === 'plain') this.print(`${event.stage}: ${event.text}`);
        break;
      case 'count': {
        const step = this.active.get(event.stage)?.replace(/ \(.*\)$/, '') ?? event.stage;
        this.active.set(event.stage, `${step} (${event.text})`);
        const now = Date.now();
        if (this.mode === 'plain' && now - this.lastPlainCount > PLAIN_COUNT_INTERVAL_MS) {
          this.lastPlainCount = now;
          this.print(`${event.stage}: ${event.text}`);
        }
        break;
      }
      case 'done':
        this.active.delete(event.stage);
        if (this.spinner) {
          this.spinner.stopAndPersist({ symbol: '✔', text: `${event.stage}: ${event.text}` });
        } else {
          this.print(`${event.stage}: ${event.text}`);
        }
        break;
    }
    this.render();
  };

  private render(): void {
    if (!this.spinner) return;
    if (this.active.size === 0) {
      if (this.spinner.isSpinning) this.spinner.stop();
      return;
    }
    this.spinner.text = [...this.active].map(([stage, text]) => `${stage}: ${text}`).join(' · ');
    if (!this.spinner.isSpinning) this.spinner.start();
  }

  private print(text: string): void {
    if (this.spinner?.isSpinning) {
      this.spinner.clear();
      process.stderr.write(`${text}\n`);
      this.spinner.render();
    } else {
      process.stderr.write(`${text}\n`);
    }
  }

  /** Stops the spinner, marking the running stages as failed. */
  fail(): void {
    if (this.spinner?.isSpinning) this.spinner.stopAndPersist({ symbol: '✖', text: this.spinner.text });
  }

  stop(): void {
    if (this.spinner?.isSpinning) this.spinner.stop();
  }
}

/**
 * Runs a command's long work with a progress view in the command's output mode: the spinner stops when the
 * work succeeds (so its result can be printed) and is marked failed when it throws.
 */
export async function withProgress<T>(command: Command, work: (onEvent: ProgressView['onEvent']) => Promise<T>): Promise<{ result: T; mode: OutputMode }> {
  const global = globalFlags(command);
  const mode = outputMode(global);
  const view = new ProgressView(mode, global.verbose ?? false);
  try {
    const result = await work(view.onEvent);
    view.stop();
    return { result, mode };
  } catch (error) {
    view.fail();
    throw error;
  }
}
