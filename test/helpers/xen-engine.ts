/**
 * Engine-level XenServer tests against the xapi simulator: the suite's fixture (a pool, an admin
 * session of the test's own, the image server, an in-process engine with the XenServer driver and
 * a zone with the pool as its cluster, all stopped afterwards), and a host outside the pool for
 * the tests of xapi's redirects.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { imageServer } from '../vsphere/vmware-zone.js';
import { Session } from '../xapi-sim/rpc-client.js';
import { testEngine, type TestEngine } from './engine.js';
import { XapiSim, type Fixture } from './xapi-sim.js';

/** What xenEngineSuite gives its tests once beforeAll has run. */
export interface XenEngineSuite {
  sim: XapiSim;
  /** A xapi session of the test's own, to check what the pool holds. */
  x: Session;
  t: TestEngine;
  images: Awaited<ReturnType<typeof imageServer>>;
  /** The zone "Xen zone", its pod, the pool as its cluster "pool", the network "Guest net" and Small Instance's id. */
  zoneid: string;
  podid: string;
  networkid: string;
  small: string;
}

/**
 * The fixture, in the suite's describe: the simulator started with FIXTURE and a session on it,
 * BEFORE (if any: e.g. the pool's default SR changed), then the image server, the engine and the
 * zone. The fields are filled in by beforeAll.
 */
export function xenEngineSuite(fixture: Fixture, options: { before?: (s: XenEngineSuite) => Promise<void> } = {}): XenEngineSuite {
  const s = {} as XenEngineSuite;
  beforeAll(async () => {
    s.sim = await XapiSim.start(fixture);
    s.x = await Session.login(s.sim.url, s.sim.username, s.sim.password);
    await options.before?.(s);
    s.images = await imageServer();
    const t = (s.t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] }));
    s.zoneid = ((await t.ok('createZone', { name: 'Xen zone' }))['zone'] as { id: string }).id;
    s.podid = ((await t.ok('createPod', { name: 'Xen pod', zoneid: s.zoneid }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: s.zoneid, podid: s.podid, clustername: 'pool', hypervisor: 'XenServer', url: s.sim.url, username: s.sim.username, password: s.sim.password });
    s.networkid = ((await t.ok('createNetwork', { name: 'Guest net', zoneid: s.zoneid, userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    s.small = ((await t.ok('listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as { id: string }[])[0]!.id;
  }, 90_000);
  afterAll(async () => {
    s.t?.engine.background.stop();
    await s.t?.close();
    await s.images?.close();
    await s.sim?.stop();
  });
  return s;
}

/**
 * A listener on the pool's port at 127.0.0.9, an address that is no host of the pool: where a
 * redirect out of the pool would send Kiln. It counts the connections that reach it (each closed
 * at once); origin is its https:// address.
 */
export async function strangerHost(sim: XapiSim): Promise<{ origin: string; connections(): number; close(): void }> {
  let connections = 0;
  const stranger = createNetServer((c) => {
    connections++;
    c.destroy();
  });
  await new Promise<void>((r) => stranger.listen(sim.info.port, '127.0.0.9', r));
  return { origin: `https://127.0.0.9:${(stranger.address() as AddressInfo).port}`, connections: () => connections, close: () => stranger.close() };
}
