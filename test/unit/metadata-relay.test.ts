/**
 * The metadata relay's two halves without a host: which listeners a zone needs (relayGateways: the
 * gateways of its Shared/Isolated networks that use the HTTP service, each with the networks it
 * serves), and the KVM relay facet's bookkeeping (MetadataRelay over a fake remote forwarder): one
 * forward per listener however often ensure runs, a refused one tried again at the next ensure,
 * connections handed on with the listener and the originator address, all closed with the session.
 */
import { PassThrough, type Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataRelay, type GuestForward, type RemoteForwarder } from '../../drivers/kvm/metadata-forward.js';
import { relayGateways } from '../../main/engine/metadata/host-relay.js';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

describe('relayGateways', () => {
  it("lists each HTTP-service network's gateway with the networks behind it; L2 and config-drive networks need none", async () => {
    const { zoneid } = demoIds(t.engine);
    const make = async (name: string, gateway: string, start: string, extra: Record<string, string> = {}) => {
      const res = await t.call('createNetwork', { name, zoneid, guestiptype: 'Shared', gateway, netmask: '255.255.255.0', startip: start, endip: start.replace(/\d+$/, '99'), ...extra });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return t.engine.db.prepare('SELECT id FROM networks WHERE uuid=?').pluck().get((res.body['network'] as { id: string }).id) as number;
    };
    const a = await make('relay-a', '10.41.1.1', '10.41.1.10');
    const b = await make('relay-b', '10.41.1.1', '10.41.1.50', { vlan: '41' });
    await make('relay-drive', '10.41.2.1', '10.41.2.10', { userdataprovider: 'ConfigDrive' });
    const c = await make('relay-c', '10.41.3.1', '10.41.3.10');
    const gateways = relayGateways(t.engine, t.engine.db.prepare('SELECT id FROM zones WHERE uuid=?').pluck().get(zoneid) as number);
    expect(gateways.get('10.41.1.1')).toEqual([a, b]);
    expect(gateways.get('10.41.3.1')).toEqual([c]);
    expect(gateways.has('10.41.2.1')).toBe(false);
    // The demo zone's L2 network has no gateway to listen on.
    expect([...gateways.values()].flat()).not.toContain(t.engine.db.prepare(`SELECT id FROM networks WHERE guest_type='L2'`).pluck().get());
  });
});

class FakeForwarder implements RemoteForwarder {
  readonly opened: string[] = [];
  readonly closed: string[] = [];
  readonly handlers = new Map<string, (stream: Duplex, originator: string) => void>();
  refuse = new Set<string>();
  async forwardIn(address: string, port: number, onConnection: (stream: Duplex, originator: string) => void): Promise<GuestForward> {
    const key = `${address}:${port}`;
    this.opened.push(key);
    if (this.refuse.has(key)) throw new Error(`cannot listen on ${key}`);
    this.handlers.set(key, onConnection);
    return { port, close: async () => void this.closed.push(key) };
  }
}

describe('MetadataRelay (the KVM session facet)', () => {
  it('opens each listener once, retries a refused one, hands connections on with the guest address, and closes them all', async () => {
    const ssh = new FakeForwarder();
    const relay = new MetadataRelay(ssh);
    const seen: string[] = [];
    const listeners = [
      { address: '10.0.0.1', port: 80, kind: 'metadata' as const },
      { address: '10.0.0.1', port: 8080, kind: 'password' as const },
    ];
    ssh.refuse.add('10.0.0.1:8080');
    const failed = await relay.ensure(listeners, (_s, from) => seen.push(`${from.listener.kind} ${from.guestAddress}`));
    expect(failed).toEqual([{ listener: listeners[1], reason: 'cannot listen on 10.0.0.1:8080' }]);
    ssh.refuse.clear();
    expect(await relay.ensure(listeners, (_s, from) => seen.push(`${from.listener.kind} ${from.guestAddress}`))).toEqual([]);
    expect(await relay.ensure(listeners, (_s, from) => seen.push(`${from.listener.kind} ${from.guestAddress}`))).toEqual([]);
    expect(ssh.opened).toEqual(['10.0.0.1:80', '10.0.0.1:8080', '10.0.0.1:8080']);
    ssh.handlers.get('10.0.0.1:80')!(new PassThrough(), '10.0.0.23');
    ssh.handlers.get('10.0.0.1:8080')!(new PassThrough(), '10.0.0.24');
    expect(seen).toEqual(['metadata 10.0.0.23', 'password 10.0.0.24']);
    await relay.close();
    expect(ssh.closed.sort()).toEqual(['10.0.0.1:80', '10.0.0.1:8080']);
    // A connection that arrives after close goes nowhere.
    ssh.handlers.get('10.0.0.1:80')!(new PassThrough(), '10.0.0.23');
    expect(seen).toHaveLength(2);
  });
});
