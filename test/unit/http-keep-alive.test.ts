/**
 * A client that pauses between two calls on one keep-alive connection gets its second answer:
 * the server keeps an idle connection KEEP_ALIVE_MS, and says so in its Keep-Alive hint. With
 * Node's default of 5 s, a client whose loop was busy longer than that (CI's tests running host
 * commands, a script between calls) sent on a socket already closed: 'other side closed'.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEP_ALIVE_MS, startHttpServer, type RunningServer } from '../../main/http/server.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let running: RunningServer;
beforeAll(async () => {
  t = await testEngine();
  running = await startHttpServer(t.engine, { port: 0 });
});
afterAll(async () => {
  await running.close();
  t.close();
});

/** Sends one GET on SOCKET and resolves with the head and body of its answer, or rejects when the socket closes first. */
function ask(socket: Socket, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) {
        socket.off('data', onData).off('close', onClose);
        resolve(text);
      }
    };
    const onClose = () => reject(new Error(`the server closed the connection before answering: ${JSON.stringify(text)}`));
    socket.on('data', onData).once('close', onClose);
    socket.write(`GET /client/api?command=listZones&response=json HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

describe('HTTP keep-alive', () => {
  it('answers the second call of a client that idled 6 s on its connection, and hints the timeout', async () => {
    const { port } = new URL(running.url);
    const host = `127.0.0.1:${port}`;
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    try {
      const first = await ask(socket, host);
      expect(first).toMatch(/^HTTP\/1\.1 401 /);
      expect(first).toMatch(new RegExp(`keep-alive: timeout=${KEEP_ALIVE_MS / 1000}`, 'i'));
      await new Promise((r) => setTimeout(r, 6_000));
      const second = await ask(socket, host);
      expect(second).toMatch(/^HTTP\/1\.1 401 /);
    } finally {
      socket.destroy();
    }
  }, 30_000);
});
