/**
 * A vCenter lost twice, on one Kiln: the connection is cut (a TCP relay between Kiln and vcsim
 * drops every connection and refuses new ones), restored, cut again and restored again. Each cut
 * shows the host Disconnected in listHosts and each restore Up again, found by Kiln's own HA and
 * reconcile passes (every second here) and the endpoint's change stream, with nothing else asking.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Relay } from '../helpers/tcp-relay.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('a vCenter cut off and back twice, on one Kiln', () => {
  let sim: Vcsim;
  let relay: Relay;
  let t: TestEngine;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0']);
    relay = new Relay({ host: sim.info.host, port: sim.info.port });
    await relay.listen();
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    await t.ok('updateConfiguration', { name: 'ha.monitor.interval', value: '1' });
    await t.ok('updateConfiguration', { name: 'host.check.timeout', value: '5' });
    const zone = ((await t.ok('createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
    const pod = ((await t.ok('createPod', { name: 'VMware Pod', zoneid: zone }))['pod'] as { id: string }).id;
    await t.ok('addCluster', {
      zoneid: zone, podid: pod, clustername: 'C0', hypervisor: 'VMware', url: `https://127.0.0.1:${relay.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    });
    t.engine.background.ha.start();
  }, 60_000);
  afterAll(async () => {
    relay?.restore();
    await t?.close();
    await relay?.close();
    sim?.stop();
  });

  /** The states listHosts shows for the vCenter's hosts. */
  const states = async () => (((await t.call('listHosts', { hypervisor: 'VMware' })).body['host'] as { state: string }[] | undefined) ?? []).map((h) => h.state);

  async function until(state: string, ms = 45_000): Promise<void> {
    const start = Date.now();
    let seen: string[] = [];
    while (Date.now() - start < ms) {
      seen = await states();
      if (seen.length > 0 && seen.every((s) => s === state)) return;
      await sleep(250);
    }
    throw new Error(`the hosts never all went ${state}: listHosts shows ${JSON.stringify(seen)}`);
  }

  it('shows each loss as Disconnected and each return as Up', async () => {
    await until('Up');
    for (const round of [1, 2, 3]) {
      relay.cutOff();
      await until('Disconnected').catch((e: Error) => { throw new Error(`cut ${round}: ${e.message}`); });
      relay.restore();
      await until('Up').catch((e: Error) => { throw new Error(`restore ${round}: ${e.message}`); });
    }
    expect(await states()).toEqual(['Up']);
  }, 240_000);
});
