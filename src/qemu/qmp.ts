import net from 'node:net';
import { LineSplitter } from '../lines.js';
import { withTimeout } from '../timeout.js';

/**
 * Sends one command to QEMU's QMP socket (after the capabilities handshake) and resolves with its reply;
 * rejects on an error reply, a closed socket, or after `timeoutMs`.
 */
export function qmpCommand(socketPath: string, command: string, timeoutMs = 3000): Promise<unknown> {
  const socket = net.createConnection(socketPath);
  const exchange = new Promise((resolve, reject) => {
    const pending = [JSON.stringify({ execute: 'qmp_capabilities' }), JSON.stringify({ execute: command })];
    let settled = false;
    const finish = (error: Error | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const splitter = new LineSplitter((line) => {
      let message: { QMP?: unknown; return?: unknown; error?: { desc?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return;
      }
      if (message.error) return finish(new Error(`QMP ${command}: ${message.error.desc ?? 'error'}`));
      if (message.QMP !== undefined || message.return !== undefined) {
        // The greeting asks for the handshake; the handshake's reply asks for the command; its reply ends it.
        const next = pending.shift();
        if (next !== undefined) socket.write(`${next}\n`);
        else finish(undefined, message.return);
      }
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`QMP ${command}: QEMU closed the socket`)));
  });
  return withTimeout(exchange, timeoutMs, `QMP ${command}: no answer`).finally(() => socket.destroy());
}

/** A QMP event QEMU sent (e.g. WATCHDOG, SHUTDOWN). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

/**
 * One QMP connection for a whole boot: QEMU's QMP server takes one client at a time, so the events (a watchdog
 * firing) and the commands (the power button) share it. Commands are answered in order.
 */
export class QmpSession {
  private readonly waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void; command: string }[] = [];

  private constructor(
    private readonly socket: net.Socket,
    onEvent: (event: QmpEvent) => void,
  ) {
    const splitter = new LineSplitter((line) => {
      let message: { event?: string; data?: Record<string, unknown>; return?: unknown; error?: { desc?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return;
      }
      if (message.event !== undefined) return onEvent({ event: message.event, ...(message.data ? { data: message.data } : {}) });
      const next = this.waiting.shift();
      if (message.error) next?.reject(new Error(`QMP ${next.command}: ${message.error.desc ?? 'error'}`));
      else next?.resolve(message.return);
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('close', () => {
      for (const entry of this.waiting.splice(0)) entry.reject(new Error(`QMP ${entry.command}: QEMU closed the socket`));
    });
    socket.on('error', () => undefined);
  }

  /**
   * Connects to QEMU's QMP socket as soon as it is there (QEMU makes it while starting), does the capabilities
   * handshake, and hands every event to `onEvent`. Undefined when no connection came within `timeoutMs` or
   * `gaveUp` says to stop trying (QEMU ended).
   */
  static async open(socketPath: string, onEvent: (event: QmpEvent) => void, options: { timeoutMs: number; gaveUp: () => boolean }): Promise<QmpSession | undefined> {
    const deadline = Date.now() + options.timeoutMs;
    while (Date.now() < deadline && !options.gaveUp()) {
      const socket = await connected(socketPath);
      if (socket) {
        const session = new QmpSession(socket, onEvent);
        // The greeting comes first: it is answered like a command's return, then the handshake's return.
        const greeting = new Promise((resolve, reject) => session.waiting.push({ resolve, reject, command: 'greeting' }));
        try {
          await greeting;
          await session.execute('qmp_capabilities');
          return session;
        } catch {
          session.close();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  }

  execute(command: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject, command });
      this.socket.write(`${JSON.stringify({ execute: command })}\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A connected socket, or undefined when nothing listens there (yet). */
function connected(socketPath: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => resolve(undefined));
  });
}
