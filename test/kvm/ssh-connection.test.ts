/**
 * SshConnection against a local ssh2 server that runs exec requests with /bin/sh: host-key
 * trust on first use, pinning, exec with stdin/exit status/timeouts/cancellation, the channel
 * limit, and 'down'/'up' when the server drops the connection and comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SshConnection, sshFingerprint } from '../../drivers/kvm/ssh-connection.js';
import { command } from '../../drivers/kvm/shell.js';
import { DriverError } from '../../drivers/types.js';
import { keyPair, startServer, type TestServer } from './fake-ssh-server.js';

const opened: SshConnection[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function open(server: TestServer, pinnedHostKey?: string, maxExecChannels?: number): Promise<SshConnection> {
  const connection = await SshConnection.open({ host: '127.0.0.1', port: server.port, username: 'kiln', password: 'secret', pinnedHostKey, maxExecChannels });
  opened.push(connection);
  return connection;
}

function waitForEvent(emitter: SshConnection, event: string, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (value: unknown) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe('SshConnection', () => {
  it('learns the host key fingerprint on first use, in OpenSSH format', async () => {
    const server = await startServer();
    servers.push(server);
    const connection = await open(server);
    expect(connection.hostKeyFingerprint).toBe(server.fingerprint);
    expect(sshFingerprint(Buffer.from('abc'))).toBe('SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
  });

  it('refuses a host whose key differs from the pinned one, naming both fingerprints', async () => {
    const server = await startServer();
    servers.push(server);
    const pinned = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const error = await open(server, pinned).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).category).toBe('host-key-changed');
    expect((error as DriverError).message).toContain(pinned);
    expect((error as DriverError).message).toContain(server.fingerprint);
    // The right pin connects.
    const ok = await open(server, server.fingerprint);
    expect(ok.hostKeyFingerprint).toBe(server.fingerprint);
  });

  it('reports bad credentials as unreachable', async () => {
    const server = await startServer();
    servers.push(server);
    await expect(SshConnection.open({ host: '127.0.0.1', port: server.port, username: 'kiln', password: 'wrong' })).rejects.toMatchObject({ category: 'unreachable' });
  });

  it('runs commands with stdin, exit status and stderr, and hostile arguments intact', async () => {
    const server = await startServer();
    servers.push(server);
    const connection = await open(server);
    expect(await connection.exec('cat', { stdin: 'hello\nworld' })).toEqual({ stdout: 'hello\nworld', stderr: '', code: 0 });
    expect(await connection.exec('echo oops >&2; exit 3')).toEqual({ stdout: '', stderr: 'oops\n', code: 3 });
    const hostile = ["a'b", '$(id)', '`id`', 'x\ny', '-rf', '; ls', '日本'];
    const result = await connection.exec(command(['printf', '%s\\0', ...hostile]));
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(hostile);
  });

  it('times out and cancels long commands', async () => {
    const server = await startServer();
    servers.push(server);
    const connection = await open(server);
    const started = Date.now();
    await expect(connection.exec('sleep 5', { timeoutMs: 300 })).rejects.toMatchObject({ category: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(connection.exec('sleep 5', { signal: controller.signal })).rejects.toThrow(/cancelled/);
    // The connection is still usable.
    expect((await connection.exec('echo ok')).stdout).toBe('ok\n');
  });

  it('keeps at most maxExecChannels commands open at once', async () => {
    const server = await startServer();
    servers.push(server);
    const connection = await open(server, undefined, 3);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => connection.exec(`sleep 0.1; echo ${i}`)));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(server.maxConcurrent).toBeLessThanOrEqual(3);
  });

  it("says 'down' when the connection drops and 'up' after reconnecting, with the same key", async () => {
    const hostKey = keyPair();
    const server = await startServer(hostKey);
    const connection = await open(server);
    const port = server.port;
    const down = waitForEvent(connection, 'down');
    await server.close();
    expect(await down).toMatchObject({ category: 'unreachable' });
    await expect(connection.exec('true', { timeoutMs: 2_000 })).rejects.toBeInstanceOf(DriverError);

    const back = await startServer(hostKey, port);
    servers.push(back);
    const up = waitForEvent(connection, 'up', 40_000);
    await up;
    expect((await connection.exec('echo again')).stdout).toBe('again\n');
  }, 60_000);

  it('will not reconnect to a host that comes back with a different key', async () => {
    const server = await startServer();
    const connection = await open(server);
    const port = server.port;
    const down = waitForEvent(connection, 'down');
    await server.close();
    await down;
    const impostor = await startServer(keyPair(), port);
    servers.push(impostor);
    const refused = await connection.exec('true').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ category: 'host-key-changed' });
    await expect(connection.exec('true')).rejects.toMatchObject({ category: 'unreachable' });
  }, 30_000);
});
