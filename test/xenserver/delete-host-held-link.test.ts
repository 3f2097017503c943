/**
 * A XenServer pool whose link stops answering (a TCP relay between Kiln and the xapi simulator
 * holds every connection: nothing fails, nothing comes back), and its host deleted meanwhile.
 * Closing the pool's connection logs out over that link, which waits for the transport's minute;
 * Kiln abandons the close after its few seconds, and the endpoint's abort destroys its sockets:
 * the event log says so and Kiln keeps no connection open through the relay. Without abort the
 * logout's socket stayed on the held link for that minute (the relay still counted it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Relay } from '../helpers/tcp-relay.js';
import { XapiSim } from '../helpers/xapi-sim.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deleteHost while the XenServer pool link answers nothing', () => {
  let sim: XapiSim;
  let relay: Relay;
  let t: TestEngine;
  let url: string;

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: 1 });
    const target = new URL(sim.url);
    relay = new Relay({ host: target.hostname, port: Number(target.port) });
    await relay.listen();
    url = `https://127.0.0.1:${relay.port}`;
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1 })] });
    const zone = ((await t.ok('createZone', { name: 'Xen zone' }))['zone'] as { id: string }).id;
    const pod = ((await t.ok('createPod', { name: 'Xen pod', zoneid: zone }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: zone, podid: pod, clustername: 'pool', hypervisor: 'XenServer', url, username: sim.username, password: sim.password });
  }, 60_000);
  afterAll(async () => {
    relay?.restore();
    await t?.close();
    await relay?.close();
    await sim?.stop();
  });

  it('deletes it with a WARN that the close was abandoned, and no socket of Kiln is left on the held link', async () => {
    const host = ((await t.ok('listHosts', { hypervisor: 'XenServer' }))['host'] as { id: string; name: string; state: string }[])[0]!;
    expect(host.state).toBe('Up');
    relay.hold();
    await t.ok('deleteHost', { id: host.id, forced: 'true' });
    expect((await t.ok('listHosts', { hypervisor: 'XenServer' }))['host']).toBeUndefined();
    const events = ((await t.ok('listEvents', { type: 'HOST.DISCONNECT' }))['event'] as { level: string; description: string }[] | undefined) ?? [];
    expect(events.map((e) => [e.level, e.description])).toEqual([
      ['WARN', `host ${host.name}: closing the connection to ${url} did not finish within 5 s (no answer over the link); abandoned, its sockets destroyed`],
    ]);
    // Destroyed: within a moment, not the transport's 60 s.
    for (let i = 0; i < 20 && relay.connections > 0; i++) await sleep(100);
    expect(relay.connections).toBe(0);
  }, 120_000);
});
