/**
 * A local SSH server for tests (ssh2's Server): password "secret" for any user, and every exec
 * request runs with /bin/sh -c on this machine, with an optional PATH prefix (fake commands).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Server, utils, type Connection } from 'ssh2';

export interface TestServer {
  port: number;
  fingerprint: string;
  connections: Set<Connection>;
  maxConcurrent: number;
  close(): Promise<void>;
}

/**
 * A fresh ed25519 host key. ssh2's generator strips leading zero bytes from the public key, so
 * about 1 key in 256 cannot be parsed back (mscdex/ssh2#1513) and the server would refuse it;
 * such a key is drawn again, or tests fail at random.
 */
export function keyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) {
      return { private: pair.private, public: pair.public };
    }
  }
}

/** OpenSSH's own fingerprint of a public key, to compare ours against. */
export function opensshFingerprint(publicKey: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-ssh-'));
  const file = path.join(dir, 'key.pub');
  writeFileSync(file, `${publicKey}\n`);
  return execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' }).split(/\s+/)[1] ?? '';
}

export async function startServer(hostKey = keyPair(), port = 0, pathPrefix?: string): Promise<TestServer> {
  const connections = new Set<Connection>();
  let concurrent = 0;
  const state = { maxConcurrent: 0 };
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => (ctx.method === 'password' && ctx.password === 'secret' ? ctx.accept() : ctx.reject(['password'])));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          concurrent++;
          state.maxConcurrent = Math.max(state.maxConcurrent, concurrent);
          const env = pathPrefix ? { ...process.env, PATH: `${pathPrefix}:${process.env['PATH'] ?? ''}` } : process.env;
          const child = spawn('/bin/sh', ['-c', info.command], { stdio: ['pipe', 'pipe', 'pipe'], env });
          // A command that exits without reading its input (as sshd, drop what is left).
          child.stdin.on('error', () => undefined);
          stream.pipe(child.stdin);
          child.stdout.pipe(stream, { end: false });
          child.stderr.pipe(stream.stderr, { end: false });
          child.on('close', (code, signal) => {
            concurrent--;
            if (signal) stream.exit(signal.replace(/^SIG/, ''));
            else stream.exit(code ?? 0);
            stream.end();
          });
          stream.on('close', () => child.kill('SIGKILL'));
          session.on('signal', (_a, _r, sig: { name: string }) => child.kill(`SIG${sig.name}` as NodeJS.Signals));
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint: opensshFingerprint(hostKey.public),
    connections,
    get maxConcurrent() {
      return state.maxConcurrent;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.end();
        server.close(() => resolve());
      }),
  };
}

