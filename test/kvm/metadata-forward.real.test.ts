/**
 * The remote-KVM path to the metadata service (drivers/kvm/metadata-forward.ts) on a real test
 * host: Kiln asks host1's sshd for a remote forward, a client on host1 connects from one loopback
 * address (standing in for a guest's NIC address on the bridge; the shared test hosts are not
 * rewired for this), and the service answers that address's VM only, because sshd reports each
 * connection's originator in the forwarded channel. Another address gets 404.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardGuestPort, type GuestForward } from '../../drivers/kvm/metadata-forward.js';
import { MetadataService } from '../../main/engine/metadata/metadata-service.js';
import { deployDemo, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import { kvmHostsOrSkip } from '../helpers/kvm-zone.js';
import { HOSTS_SH } from './real-hosts.js';

const run = promisify(execFile);

const hosts = kvmHostsOrSkip();

describe.skipIf(!hosts)('metadata over an SSH remote forward on a real KVM host', () => {
  let t: TestEngine;
  let client: Client;
  let forward: GuestForward;
  let password: GuestForward;
  let service: MetadataService;
  let vm: Record<string, string>;

  beforeAll(async () => {
    const host = hosts!.hosts[0]!;
    t = await testEngine();
    const ids = demoIds(t.engine);
    const net = await t.call('createNetwork', { name: 'fwd-net', zoneid: ids.zoneid, guestiptype: 'Shared', gateway: '127.0.0.1', netmask: '255.0.0.0', startip: '127.0.0.23', endip: '127.0.0.30' });
    vm = await deployDemo(t, { name: 'fwd-guest', networkids: (net.body['network'] as { id: string }).id });
    service = new MetadataService(t.engine);
    client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject).connect({
        host: host.address, port: host.port, username: host.username, privateKey: readFileSync(host.privateKeyPath),
        // The pinned key from hosts.json, as Kiln pins it.
        hostVerifier: (key: Buffer) => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}` === host.sshHostKeyFingerprint,
      });
    });
    forward = await forwardGuestPort(client, '127.0.0.1', 0, (stream, originator) => service.acceptForwarded(stream, originator, 'metadata'));
    password = await forwardGuestPort(client, '127.0.0.1', 0, (stream, originator) => service.acceptForwarded(stream, originator, 'password'));
  });
  afterAll(async () => {
    await forward?.close();
    await password?.close();
    client?.end();
    await service?.close();
    await t?.close();
  });

  // Not onHost (execFileSync): the forwarded connection needs this process's event loop while curl waits.
  const curl = async (from: string, port: number, path: string, header?: string) =>
    (await run(HOSTS_SH, ['exec', 'host1', 'curl', '-s', '-m', '10', '-o', '-', '-w', ' %{http_code}', '--interface', from, ...(header ? ['-H', header] : []), `http://127.0.0.1:${port}${path}`])).stdout.trim();

  it('answers the guest by the originator address sshd reports, and nobody else', async () => {
    expect(forward.port).toBeGreaterThan(0);
    expect(await curl('127.0.0.23', forward.port, '/latest/meta-data/instance-id')).toBe(`${vm['id']} 200`);
    expect(await curl('127.0.0.23', forward.port, '/latest/meta-data/local-hostname')).toBe('fwd-guest 200');
    expect(await curl('127.0.0.24', forward.port, '/latest/meta-data/instance-id')).toMatch(/ 404$/);
    expect(await curl('127.0.0.23', password.port, '/', 'DomU_Request: send_my_password')).toBe('saved_password 200');
  });
});
