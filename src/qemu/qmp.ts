import net from 'node:net';
import { LineSplitter } from '../lines.js';

/**
 * Sends one command to QEMU's QMP socket (after the capabilities handshake) and resolves with its reply;
 * rejects on an error reply, a closed socket, or after `timeoutMs`.
 */
export function qmpCommand(socketPath: string, command: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const pending = [JSON.stringify({ execute: 'qmp_capabilities' }), JSON.stringify({ execute: command })];
    let settled = false;
    const finish = (error: Error | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`QMP ${command}: no answer within ${timeoutMs} ms`)), timeoutMs);
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
}
