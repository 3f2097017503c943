/**
 * The hosts of one vCenter connecting at the same moment (a cluster made Managed again connects
 * its hosts side by side, as Kiln's start and an HA pass after a loss do): they join one
 * connection. Seen from vCenter, Unmanaged again leaves no session of Kiln's logged in; seen in
 * listHosts, the vCenter cut off shows every host Disconnected, from its change stream alone
 * (no HA pass runs in this file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { asArray, asObject, getProperties, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Relay } from '../helpers/tcp-relay.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('two hosts of one vCenter connecting together', () => {
  let sim: Vcsim;
  let relay: Relay;
  let t: TestEngine;
  let observer: VimClient;
  let observerKey: string;
  let cluster: string;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0']);
    relay = new Relay({ host: sim.info.host, port: sim.info.port });
    await relay.listen();
    // vCenter's own view of its sessions, straight to vcsim (not through the relay).
    observer = await sim.connect();
    observerKey = asObject((await getProperties(observer, observer.sessionManager, ['currentSession']))['currentSession'])['key'] as string;
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    const zone = ((await t.ok('createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
    const pod = ((await t.ok('createPod', { name: 'VMware Pod', zoneid: zone }))['pod'] as { id: string }).id;
    cluster = ((await t.ok('addCluster', {
      zoneid: zone, podid: pod, clustername: 'C0', hypervisor: 'VMware', url: `https://127.0.0.1:${relay.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    }))['cluster'] as { id: string }).id;
  }, 60_000);
  afterAll(async () => {
    relay?.restore();
    await t?.close();
    await observer?.logout().catch(() => undefined);
    observer?.close();
    await relay?.close();
    sim?.stop();
  });

  /** The sessions vCenter has open besides the observer's: Kiln's. */
  async function kilnSessions(): Promise<string[]> {
    const list = asArray((await getProperties(observer, observer.sessionManager, ['sessionList']))['sessionList']);
    return list.map((s) => asObject(s)['key'] as string).filter((key) => key !== observerKey);
  }

  const states = async () => (((await t.call('listHosts', { hypervisor: 'VMware' })).body['host'] as { name: string; state: string }[] | undefined) ?? []).map((h) => `${h.name}: ${h.state}`).sort();

  async function until(state: string, ms = 20_000): Promise<void> {
    const start = Date.now();
    let seen: string[] = [];
    while (Date.now() - start < ms) {
      seen = await states();
      if (seen.length === 2 && seen.every((s) => s.endsWith(`: ${state}`))) return;
      await sleep(200);
    }
    throw new Error(`the hosts never both went ${state}: listHosts shows ${JSON.stringify(seen)}`);
  }

  it('share one vCenter session, which Unmanaged logs out', async () => {
    await until('Up');
    await t.ok('updateCluster', { id: cluster, managedstate: 'Unmanaged' });
    expect(await kilnSessions()).toEqual([]);
    // Managed: both hosts' connects start at once.
    await t.ok('updateCluster', { id: cluster, managedstate: 'Managed' });
    await until('Up');
    expect(await kilnSessions()).toHaveLength(1);
    await t.ok('updateCluster', { id: cluster, managedstate: 'Unmanaged' });
    expect(await states()).toEqual(['DC0_C0_H0: Disconnected', 'DC0_C0_H1: Disconnected']);
    expect(await kilnSessions()).toEqual([]);
  }, 60_000);

  it('are both shown Disconnected when the vCenter is cut off', async () => {
    await t.ok('updateCluster', { id: cluster, managedstate: 'Managed' });
    await until('Up');
    relay.cutOff();
    await until('Disconnected');
    relay.restore();
  }, 60_000);
});
