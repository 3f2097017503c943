/**
 * A vCenter whose link stops answering (a TCP relay between Kiln and vcsim holds every
 * connection: nothing fails, nothing comes back), and its host deleted meanwhile. Closing the
 * connection logs out over that link, which would wait for the transport's minute; deleteHost
 * answers after Kiln's few seconds instead, the event log says the close was abandoned, and
 * Kiln keeps no connection open through the relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Relay } from '../helpers/tcp-relay.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('deleteHost while the vCenter link answers nothing', () => {
  let sim: Vcsim;
  let relay: Relay;
  let t: TestEngine;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0']);
    relay = new Relay({ host: sim.info.host, port: sim.info.port });
    await relay.listen();
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    const zone = ((await t.ok('createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
    const pod = ((await t.ok('createPod', { name: 'VMware Pod', zoneid: zone }))['pod'] as { id: string }).id;
    await t.ok('addCluster', {
      zoneid: zone, podid: pod, clustername: 'C0', hypervisor: 'VMware', url: `https://127.0.0.1:${relay.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    });
  }, 60_000);
  afterAll(async () => {
    relay?.restore();
    await t?.close();
    await relay?.close();
    sim?.stop();
  });

  it('answers within seconds, with a WARN that the close was abandoned', async () => {
    const host = ((await t.ok('listHosts', { hypervisor: 'VMware' }))['host'] as { id: string; name: string; state: string }[])[0]!;
    expect(host.state).toBe('Up');
    relay.hold();
    const started = Date.now();
    await t.ok('deleteHost', { id: host.id, forced: 'true' });
    // Kiln waits 5 s for the close; the transport would give up after 60 s on each of its calls.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await t.ok('listHosts', { hypervisor: 'VMware' }))['host']).toBeUndefined();
    const events = ((await t.ok('listEvents', { type: 'HOST.DISCONNECT' }))['event'] as { level: string; description: string }[] | undefined) ?? [];
    expect(events.map((e) => [e.level, e.description])).toEqual([
      ['WARN', `host ${host.name}: closing the connection to https://127.0.0.1:${relay.port}/DC0/DC0_C0 did not finish within 5 s (no answer over the link); abandoned, its sockets destroyed`],
    ]);
    // Its sockets destroyed: nothing of Kiln's is left waiting on the held link.
    for (let i = 0; i < 20 && relay.connections > 0; i++) await sleep(100);
    expect(relay.connections).toBe(0);
  }, 150_000);
});
