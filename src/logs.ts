import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { Gopid1Error } from './errors.js';
import { LineTail } from './lines.js';

/** A log file that also keeps the last lines for error reports and passes each line on. */
export interface LogSink {
  readonly file: string;
  line(text: string): void;
  tail(): string[];
  close(): Promise<void>;
}

/**
 * Opens (creating its directory) a log file for appending or from scratch. A file that cannot be opened is
 * a Gopid1Error before any work starts; a write that fails later (a full disk) stops the logging, not the run.
 */
export async function openLog(file: string, options: { append?: boolean; tailSize?: number; onLine?: (line: string) => void } = {}): Promise<LogSink> {
  let stream;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    stream = (await open(file, options.append ? 'a' : 'w', 0o644)).createWriteStream();
  } catch (error) {
    throw new Gopid1Error('BAD_INPUT', `cannot write the log file ${file}`, {
      hint: 'Make its directory writable, or choose another out dir.',
      cause: error,
    });
  }
  let broken = false;
  stream.on('error', () => {
    broken = true;
  });
  const tail = new LineTail(options.tailSize ?? 40);
  return {
    file,
    line(text: string): void {
      if (!broken) stream.write(`${text}\n`);
      tail.add(text);
      options.onLine?.(text);
    },
    tail: () => tail.get(),
    close: () =>
      new Promise<void>((resolve) => {
        if (broken || stream.destroyed) resolve();
        else stream.end(() => resolve());
      }),
  };
}
