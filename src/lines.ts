/**
 * Line handling shared by every stream we watch (container logs, the QEMU serial console): split chunks into
 * lines, drop carriage returns and terminal escape sequences, and keep a bounded tail for error reports.
 */
import { StringDecoder } from 'node:string_decoder';

// CSI sequences (colours, cursor moves), OSC sequences, and the lone two-byte escapes SeaBIOS and the kernel emit.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1bc/g;

export function cleanLine(line: string): string {
  return line.replace(ESCAPES, '').replace(/\r/g, '');
}

/** The longest incomplete line kept (a line that never ends, e.g. a progress bar redrawn with \r). */
export const MAX_PARTIAL_LINE = 64 * 1024;

/**
 * Feeds text in arbitrary chunks; calls `onLine` once per complete line, without its newline. Bytes are decoded as
 * one UTF-8 stream (a character cut between two chunks stays whole), and each chunk costs time in its own length:
 * an incomplete line longer than MAX_PARTIAL_LINE keeps only what follows its last carriage return (what a terminal
 * shows), else it is given out as a line of its own.
 */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new StringDecoder('utf8');
  /** Chunks taken so far: a caller can tell whether anything arrived since it looked. */
  received = 0;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string | Buffer): void {
    this.received += 1;
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', start)) {
      const line = this.pending + text.slice(start, at);
      this.pending = '';
      start = at + 1;
      this.onLine(cleanLine(line));
    }
    this.pending += text.slice(start);
    if (this.pending.length > MAX_PARTIAL_LINE) this.bound();
  }

  private bound(): void {
    // A carriage return that is not the last character (that one may be half of \r\n) starts the line anew.
    const redrawn = this.pending.lastIndexOf('\r', this.pending.length - 2);
    if (redrawn !== -1) this.pending = this.pending.slice(redrawn + 1);
    if (this.pending.length > MAX_PARTIAL_LINE) {
      const line = this.pending;
      this.pending = '';
      this.onLine(cleanLine(line));
    }
  }

  /** The incomplete last line, as seen so far (for prompts that never end in a newline). */
  get partial(): string {
    return cleanLine(this.pending);
  }

  /** The start of the incomplete last line, cheap to read after every chunk. */
  partialHead(length = 256): string {
    return cleanLine(this.pending.slice(0, length));
  }

  /** Emits what is left as a last line. */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest !== '') this.onLine(cleanLine(rest));
  }
}

/** Keeps the last `size` lines. */
export class LineTail {
  private readonly lines: string[] = [];

  constructor(private readonly size = 30) {}

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }

  get(): string[] {
    return [...this.lines];
  }
}
