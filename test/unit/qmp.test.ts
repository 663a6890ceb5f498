import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { QmpSession, type QmpEvent } from '../../src/qemu/qmp.js';

/** A QMP server as QEMU answers: a greeting, the handshake, commands in order, an event after the handshake. */
function fakeQemu(socketPath: string): net.Server {
  const server = net.createServer((socket) => {
    socket.write('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}\r\n');
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const { execute } = JSON.parse(buffer.slice(0, end)) as { execute: string };
        buffer = buffer.slice(end + 1);
        if (execute === 'qmp_capabilities') socket.write('{"return": {}}\r\n{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "WATCHDOG", "data": {"action": "reset"}}\r\n');
        else if (execute === 'system_powerdown') socket.write('{"return": {}}\r\n');
        else socket.write(`{"error": {"class": "CommandNotFound", "desc": "The command ${execute} has not been found"}}\r\n`);
      }
    });
  });
  server.listen(socketPath);
  return server;
}

describe('QMP session: one connection for events and commands', () => {
  it('connects once QEMU makes the socket, hands over events, and answers commands in order', async () => {
    const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'gopid1-qmp-test-')), 'qmp.sock');
    const events: QmpEvent[] = [];
    let server: net.Server | undefined;
    // QEMU makes the socket a moment after it starts.
    const late = setTimeout(() => (server = fakeQemu(socketPath)), 200);
    const session = await QmpSession.open(socketPath, (event) => events.push(event), { timeoutMs: 5000, gaveUp: () => false });
    clearTimeout(late);
    assert.ok(session, 'connected');
    assert.deepEqual(await session.execute('system_powerdown'), {});
    await assert.rejects(session.execute('nonsense'), /QMP nonsense: The command nonsense has not been found/);
    assert.deepEqual(events, [{ event: 'WATCHDOG', data: { action: 'reset' } }]);
    session.close();
    server?.close();
  });

  it('gives up when QEMU ended before making the socket', async () => {
    const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'gopid1-qmp-test-')), 'qmp.sock');
    let ended = false;
    setTimeout(() => (ended = true), 100);
    const started = Date.now();
    assert.equal(await QmpSession.open(socketPath, () => undefined, { timeoutMs: 10_000, gaveUp: () => ended }), undefined);
    assert.ok(Date.now() - started < 2000);
  });
});
