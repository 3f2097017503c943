/**
 * A real KVM guest's display over a console channel, the Electron window's path (it has no HTTP
 * server for createConsoleEndpoint's WebSocket): ConsoleChannels opens kind graphical, the VNC
 * display forwarded through host1's SSH connection answers with its RFB greeting, the RFB
 * handshake goes on over base64 writes (the server offers its security types, None among them:
 * the display listens on the host's loopback only), and the client closes the channel. Malformed
 * kinds and encodings are not messages at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleChannels, parseClientMessage } from '../../main/http/live.js';
import type { ConsoleServerMessage } from '../../preload/api.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let vmId: string;

describe.skipIf(!hosts)('a KVM display over a console channel (IPC path)', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-display' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    vmId = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
  }, 180_000);

  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
  }, 120_000);

  it('carries the RFB handshake both ways in base64 and ends with the channel', async () => {
    const messages: ConsoleServerMessage[] = [];
    const channels = new ConsoleChannels(z.t.engine, z.t.admin, (m) => messages.push(m));
    const bytes = () => Buffer.concat(messages.filter((m) => m.type === 'console-data').map((m) => Buffer.from((m as { data: string }).data, 'base64')));
    const open = parseClientMessage({ type: 'console-open', id: 'd1', vmId, kind: 'graphical' });
    expect(open).toEqual({ type: 'console-open', id: 'd1', vmId, kind: 'graphical' });
    channels.handle(open as never);
    await expect.poll(() => bytes().toString('latin1'), { timeout: 30_000 }).toMatch(/^RFB 003\.00\d\n$/);
    expect(messages[0]).toEqual({ type: 'console-opened', id: 'd1' });
    // The client's version; the server answers with its security types (count, then the types).
    const write = parseClientMessage({ type: 'console-write', id: 'd1', data: Buffer.from('RFB 003.008\n').toString('base64'), encoding: 'base64' });
    channels.handle(write as never);
    await expect.poll(() => bytes().length, { timeout: 10_000 }).toBeGreaterThan(12);
    const types = bytes().subarray(12);
    expect(types[0]).toBeGreaterThan(0);
    expect([...types.subarray(1, 1 + types[0]!)]).toContain(1); // 1: None (the display listens on the host's loopback only)
    channels.handle({ type: 'console-close', id: 'd1' });
    // Malformed kinds and encodings are not messages at all.
    expect(parseClientMessage({ type: 'console-open', id: 'd2', vmId, kind: 'rdp' })).toBeUndefined();
    expect(parseClientMessage({ type: 'console-write', id: 'd2', data: 'x', encoding: 'hex' })).toBeUndefined();
  });
});
