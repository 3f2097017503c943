/**
 * KvmDriver.connect and the session's connection events against a local SSH server whose
 * `virsh` is a stub script: the session reports {kind:'connection', state:'down'} when the SSH
 * connection drops and 'up' when it is back, and refuses a host that does not run libvirt.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KvmDriver, parseHostUrl } from '../../drivers/kvm/index.js';
import type { Endpoint, HostEvent } from '../../drivers/types.js';
import { keyPair, startServer, type TestServer } from './fake-ssh-server.js';

/** A virsh that answers `version`, lists no domains, and streams no events. */
function fakeVirshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-fake-virsh-'));
  const file = path.join(dir, 'virsh');
  writeFileSync(
    file,
    `#!/bin/sh
[ "$1" = -c ] && shift 2
case "$1" in
  version) printf 'Running hypervisor: QEMU 7.2.0\\nRunning against daemon: 9.0.0\\n' ;;
  list) printf ' Id   Name   State\\n--------------------\\n\\n' ;;
  event) exec sleep 600 ;;
  *) echo "error: unknown command $1" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(file, 0o755);
  return dir;
}

const servers: TestServer[] = [];
const sessions: Endpoint[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close();
  for (const s of servers.splice(0)) await s.close();
});

const driver = new KvmDriver({ reconcileIntervalMs: 500 });

describe('KvmDriver connect and connection events', () => {
  it('parses host URLs', () => {
    expect(parseHostUrl('ssh://10.0.0.5')).toEqual({ host: '10.0.0.5', port: 22, username: 'root' });
    expect(parseHostUrl('ssh://kiln@host.example:2222', undefined)).toEqual({ host: 'host.example', port: 2222, username: 'kiln' });
    expect(parseHostUrl('ssh://[fd00::5]:22', 'admin')).toEqual({ host: 'fd00::5', port: 22, username: 'admin' });
    expect(() => parseHostUrl('https://vcenter/sdk')).toThrow(/ssh:\/\//);
    expect(() => parseHostUrl('not a url')).toThrow(/host URL/);
  });

  it('connects, pins the key, and reports the connection going down and coming back', async () => {
    const hostKey = keyPair();
    const virshDir = fakeVirshDir();
    const server = await startServer(hostKey, 0, virshDir);
    const port = server.port;
    const endpoint = await driver.connect({ hostId: 'h1', url: `ssh://127.0.0.1:${port}`, username: 'kiln', password: 'secret' });
    sessions.push(endpoint);
    // One host behind a KVM endpoint, trusted by the SSH host key seen on first use.
    const hosts = await endpoint.hosts();
    expect(hosts.map((h) => h.name)).toEqual(['127.0.0.1']);
    const session = endpoint.host(hosts[0]!.ref);
    expect(endpoint.trust).toEqual({ kind: 'ssh-host-key', fingerprint: server.fingerprint });
    expect(session.trust).toEqual(endpoint.trust);
    expect(session.capabilities).toMatchObject({ liveMigration: true, storageMotion: true, liveStorageMotion: true, storageMotionAcrossHosts: true, memorySnapshots: true, vnc: true, gpu: false });
    expect(await session.listInstances()).toEqual([]);

    const events: HostEvent[] = [];
    endpoint.onEvent((e) => events.push(e));
    await server.close();
    await waitFor(() => events.some((e) => e.kind === 'connection' && e.state === 'down'), 10_000);
    const back = await startServer(hostKey, port, virshDir);
    servers.push(back);
    await waitFor(() => events.some((e) => e.kind === 'connection' && e.state === 'up'), 40_000);
    // One 'down' per outage, however many reconnect attempts failed.
    expect(events.filter((e) => e.kind === 'connection' && e.state === 'down')).toHaveLength(1);
  }, 60_000);

  it('refuses a host without libvirt', async () => {
    const server = await startServer();
    servers.push(server);
    // No fake virsh on PATH: `virsh version` fails (not installed here, or no daemon).
    await expect(driver.connect({ hostId: 'h2', url: `ssh://127.0.0.1:${server.port}`, username: 'kiln', password: 'secret', options: { uri: 'qemu+unix:///nowhere' } })).rejects.toMatchObject({
      category: 'unreachable',
    });
  });

  it('needs a password or a key', async () => {
    await expect(driver.connect({ hostId: 'h3', url: 'ssh://127.0.0.1:1', username: 'kiln' })).rejects.toMatchObject({ category: 'invalid' });
  });
});

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
