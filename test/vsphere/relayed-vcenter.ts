/**
 * A vCenter reached through a TCP relay (test/helpers/tcp-relay.ts), for the tests that cut or
 * hold its link: vcsim with one cluster of one host, the relay in front of it, and an in-process
 * engine with that cluster added through the relay (its thumbprint trusted), all stopped
 * afterwards, the relay restored first. In a describe; the fields are filled in by beforeAll.
 * CONFIGURE runs on the engine before the cluster is added (settings), STARTED after (HA passes).
 */
import { afterAll, beforeAll } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Relay } from '../helpers/tcp-relay.js';
import { Vcsim } from '../helpers/vcsim.js';

export interface RelayedVcenter {
  sim: Vcsim;
  relay: Relay;
  t: TestEngine;
  /** The cluster's URL as Kiln has it (through the relay). */
  url: string;
}

export function relayedVcenter(options: { configure?: (t: TestEngine) => Promise<void>; started?: (t: TestEngine) => void } = {}): RelayedVcenter {
  const s = {} as RelayedVcenter;
  beforeAll(async () => {
    s.sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0']);
    s.relay = new Relay({ host: s.sim.info.host, port: s.sim.info.port });
    await s.relay.listen();
    s.url = `https://127.0.0.1:${s.relay.port}/DC0/DC0_C0`;
    const t = (s.t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] }));
    await options.configure?.(t);
    const zone = ((await t.ok('createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
    const pod = ((await t.ok('createPod', { name: 'VMware Pod', zoneid: zone }))['pod'] as { id: string }).id;
    await t.ok('addCluster', {
      zoneid: zone, podid: pod, clustername: 'C0', hypervisor: 'VMware', url: s.url,
      username: s.sim.info.username, password: s.sim.info.password, trustfingerprint: s.sim.info.thumbprint,
    });
    options.started?.(t);
  }, 60_000);
  afterAll(async () => {
    s.relay?.restore();
    await s.t?.close();
    await s.relay?.close();
    s.sim?.stop();
  });
  return s;
}
