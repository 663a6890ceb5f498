import { Gopid1Error } from '../errors.js';

/**
 * Reading a gopid1 machine's serial console: which lines are the kernel's, when the program has spoken,
 * when an expectation is met, and what the kernel says when PID 1 ends.
 */

/** Kernel messages carry a printk timestamp (gopid1 boots with printk.time=1). */
const KERNEL_LINE = /^\[\s*\d+\.\d+\]/;
const KERNEL_TIME = /^\[\s*(\d+\.\d+)\]/;
/** The kernel's last word before it executes /init (an info message: shown with loglevel=7, not with quiet). */
const RUN_INIT = /\] Run \S+ as init process/;
const INIT_EXIT = /Attempted to kill init! exitcode=(0x[0-9a-fA-F]+)/;
const PANIC = /Kernel panic - not syncing: ?(.*)$/;
/** The kernel's software watchdog, not fed in time, about to reset the machine (a critical message: shown with quiet). */
const SOFTDOG_RESET = /softdog: Initiating system reboot/;
/** The supervising init's last word about the program (init/main.go); a restart line ("…, restart 2 in 2 s") is not one. */
const SUPERVISOR_EXIT = /^gopid1: app (?:exited with status (\d+)|killed by signal (\d+)(?: \([^)]*\))?)\s*$/;
/** Every line the supervising init prints starts so; none of them is the program's. */
const SUPERVISOR_LINE = /^gopid1: /;
/** GRUB prints this when it starts the menu entry; before it, the console belongs to firmware and GRUB. */
const GRUB_BOOTING = /Booting `/;
/** What GRUB may still print after that line, before the kernel runs. */
const GRUB_MESSAGE = /^\s*(error: |Booting in blind mode)/;
/** OVMF's boot manager ("BdsDxe: loading Boot0001 …", "BdsDxe: starting …"): all a UKI boot prints before the program. */
const UEFI_BOOT_MANAGER = /^BdsDxe: /;

/** An --expect pattern as a regular expression, or what is wrong with it. */
export function toRegExp(expect: string | RegExp): RegExp {
  // Without g and y: those make test() carry lastIndex from one line to the next.
  if (expect instanceof RegExp) return expect.global || expect.sticky ? new RegExp(expect.source, expect.flags.replace(/[gy]/g, '')) : expect;
  try {
    return new RegExp(expect);
  } catch (error) {
    throw new Gopid1Error('BAD_INPUT', `--expect ${JSON.stringify(expect)} is not a valid regular expression`, {
      hint: 'Use JavaScript regular expression syntax, e.g. --expect "Hello from Golang".',
      cause: error,
    });
  }
}

export function isKernelLine(line: string): boolean {
  return KERNEL_LINE.test(line);
}

/** What PID 1's wait status (the kernel's "exitcode=0x…") means: an exit status or a terminating signal. */
export function decodeInitExit(code: number): { status: number } | { signal: number; coreDumped: boolean } {
  const signal = code & 0x7f;
  if (signal !== 0) return { signal, coreDumped: (code & 0x80) !== 0 };
  return { status: (code >> 8) & 0xff };
}

export type ConsoleVerdict =
  | { kind: 'expected'; line: string }
  | { kind: 'init-exited'; code: number; status?: number; signal?: number; line: string }
  /** The supervising init reports the program's end; it powers the machine off next. */
  | { kind: 'app-exited'; status?: number; signal?: number; line: string }
  | { kind: 'panic'; message: string; line: string }
  /** A watchdog was not fed in time and resets the machine. */
  | { kind: 'watchdog'; line: string };

/**
 * Feeds console lines one at a time; returns a verdict on the line that settles the boot: the N-th match of
 * `expect`, PID 1 exiting, or any other kernel panic.
 */
/** The kernel's OOM killer at work (printed even under `quiet`: it is an error-level message). */
const OOM_KILL = /\] Out of memory: Killed process \d+/;

export class ConsoleWatcher {
  private matches = 0;
  /** Milliseconds (as given to feed) when the first non-kernel, non-empty line appeared. */
  firstProgramLineAt: number | undefined;
  expectedAt: number | undefined;
  /**
   * When the kernel's clock read zero, in the caller's time: the smallest (arrival − printk timestamp) over
   * kernel lines, i.e. the line that waited least between printk and the console.
   */
  kernelClockZeroAt: number | undefined;
  /** When the kernel handed over to /init, in the caller's time (from the "Run /init" line's timestamp). */
  initAt: number | undefined;
  /** The kernel's OOM killer stopped a process ("Out of memory: Killed process …"): the machine ran out of RAM. */
  outOfMemory = false;
  private initKernelSeconds: number | undefined;

  /** With GRUB in front (ISO and disk boots), output counts as the program's only after GRUB's "Booting `…'". */
  private bootloaderDone: boolean;

  /**
   * `bootloader`: what prints before the kernel: `grub` (ISOs, disks), or `uki` (the firmware starts a UKI, and
   * only the firmware's boot manager lines come first). `supervised`: /init is gopid1's supervising init, whose
   * "gopid1: app exited …" line ends the program's run. `expectAnywhere`: `expect` is tried on every line (firmware,
   * GRUB, kernel, the init), not only the program's.
   */
  constructor(private readonly options: { expect?: RegExp; expectCount?: number; expectAnywhere?: boolean; bootloader?: 'grub' | 'uki'; supervised?: boolean } = {}) {
    this.bootloaderDone = options.bootloader !== 'grub';
  }

  /** The incomplete last line as it arrives: it marks when the program first spoke. */
  notePartial(text: string, at: number): void {
    // The start of a kernel line ("[    0.8") is not the program speaking.
    if (!text.startsWith('[')) this.noteProgramOutput(text, at);
  }

  /**
   * An incomplete last line that has stayed incomplete for a while (a prompt that never ends its line): it
   * can meet the last expected match. Call it only once the console has gone quiet, or `count: 1$` would
   * match the first half of "count: 10".
   */
  feedPartial(text: string, at: number): ConsoleVerdict | undefined {
    this.notePartial(text, at);
    if (this.expects(text) && (this.options.expectCount ?? 1) - this.matches === 1) {
      this.matches += 1;
      this.expectedAt = at;
      return { kind: 'expected', line: text };
    }
    return undefined;
  }

  /** Whether a line is the program's: not the kernel's, not the init's, not firmware's or GRUB's (up to its "Booting" line). */
  private isProgramLine(text: string): boolean {
    if (text.trim() === '' || isKernelLine(text)) return false;
    if (this.options.supervised && SUPERVISOR_LINE.test(text)) return false;
    if (this.options.bootloader === 'uki' && UEFI_BOOT_MANAGER.test(text)) return false;
    if (GRUB_BOOTING.test(text)) {
      this.bootloaderDone = true;
      return false;
    }
    return this.bootloaderDone && !GRUB_MESSAGE.test(text);
  }

  private noteProgramOutput(text: string, at: number): boolean {
    const program = this.isProgramLine(text);
    if (program) this.firstProgramLineAt ??= at;
    return program;
  }

  /** --expect looks at the program's lines only, unless told to look at every line. */
  private expects(text: string, program = this.isProgramLine(text)): boolean {
    return (program || (this.options.expectAnywhere ?? false)) && (this.options.expect?.test(text) ?? false);
  }

  private noteKernelTime(line: string, at: number): void {
    const time = KERNEL_TIME.exec(line);
    if (!time) return;
    const seconds = Number(time[1]);
    if (seconds > 0) this.kernelClockZeroAt = Math.min(this.kernelClockZeroAt ?? Infinity, at - seconds * 1000);
    if (RUN_INIT.test(line)) this.initKernelSeconds = seconds;
    if (this.initKernelSeconds !== undefined && this.kernelClockZeroAt !== undefined) this.initAt = this.kernelClockZeroAt + this.initKernelSeconds * 1000;
  }

  feed(line: string, at: number): ConsoleVerdict | undefined {
    const program = this.noteProgramOutput(line, at);
    this.noteKernelTime(line, at);
    if (!program && OOM_KILL.test(line)) this.outOfMemory = true;
    if (this.expects(line, program)) {
      this.matches += 1;
      if (this.matches >= (this.options.expectCount ?? 1)) {
        this.expectedAt = at;
        return { kind: 'expected', line };
      }
    }
    const supervised = this.options.supervised ? SUPERVISOR_EXIT.exec(line) : null;
    if (supervised) {
      return supervised[2] !== undefined ? { kind: 'app-exited', signal: Number(supervised[2]), line } : { kind: 'app-exited', status: Number(supervised[1]), line };
    }
    const exit = INIT_EXIT.exec(line);
    if (exit) {
      const code = parseInt(exit[1] ?? '0', 16);
      return { kind: 'init-exited', code, ...decodeInitExit(code), line };
    }
    const panic = PANIC.exec(line);
    if (panic) return { kind: 'panic', message: (panic[1] ?? '').trim(), line };
    if (isKernelLine(line) && SOFTDOG_RESET.test(line)) return { kind: 'watchdog', line };
    return undefined;
  }
}
