/**
 * Line handling shared by every stream we watch (container logs, the QEMU serial console): split chunks into
 * lines, drop carriage returns and terminal escape sequences, and keep a bounded tail for error reports.
 */

// CSI sequences (colours, cursor moves), OSC sequences, and the lone two-byte escapes SeaBIOS and the kernel emit.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1bc/g;

export function cleanLine(line: string): string {
  return line.replace(ESCAPES, '').replace(/\r/g, '');
}

/** Feeds text in arbitrary chunks; calls `onLine` once per complete line, without its newline. */
export class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string | Buffer): void {
    const text = this.pending + chunk.toString();
    const parts = text.split('\n');
    this.pending = parts.pop() ?? '';
    for (const part of parts) this.onLine(cleanLine(part));
  }

  /** The incomplete last line, as seen so far (for prompts that never end in a newline). */
  get partial(): string {
    return cleanLine(this.pending);
  }

  /** Emits what is left as a last line. */
  end(): void {
    if (this.pending !== '') {
      const rest = this.pending;
      this.pending = '';
      this.onLine(cleanLine(rest));
    }
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
