/**
 * Two xapi simulator pools as two Kiln clusters of one zone (the cross-pool migration tests):
 * each pool holds TEMPLATE, which Kiln registers by its name as a host path; a network and a
 * 1-vCPU 1 GiB offering 'small'. With the API helpers those tests share and their look-ups of a
 * VM's records in a pool (by Kiln's uuid, other_config kiln_uuid) and of its Kiln row.
 */
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from './engine.js';
import { XapiSim, type HostFixture } from './xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

type Rec = Record<string, unknown>;

export interface TwoXenPools {
  a: XapiSim;
  b: XapiSim;
  xa: Session;
  xb: Session;
  t: TestEngine;
  /** zone, network, template, small, and each host's Kiln id by its name. */
  ids: Record<string, string>;
  ok(command: string, params?: Record<string, string>): Promise<Rec>;
  job(command: string, params: Record<string, string>): Promise<Rec>;
  /** The pool's VM records that carry Kiln's uuid. */
  inPool(x: Session, uuid: string): Promise<[string, Rec][]>;
  /** The VM's ref, state, host and cluster names as Kiln records them. */
  row(uuid: string): Rec;
  close(): Promise<void>;
}

export async function twoXenPools(options: { template: string; hostsA: HostFixture[]; hostsB: HostFixture[]; lostAnswerWaitMs?: number }): Promise<TwoXenPools> {
  const vms = [{ name: options.template, template: true }];
  const a = await XapiSim.start({ hosts: options.hostsA, vms, eventTimeoutClampS: 1, taskDelayMs: 5 });
  const b = await XapiSim.start({ hosts: options.hostsB, vms, eventTimeoutClampS: 1, taskDelayMs: 5 });
  const xa = await Session.login(a.url, a.username, a.password);
  const xb = await Session.login(b.url, b.username, b.password);
  const t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000, lostAnswerWaitMs: options.lostAnswerWaitMs })] });
  const ids: Record<string, string> = {};
  const ok = async (command: string, params: Record<string, string> = {}) => {
    const res = await t.call(command, params);
    if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const job = async (command: string, params: Record<string, string>) => t.engine.jobs.wait(String((await ok(command, params))['jobid']));
  ids['zone'] = ((await ok('createZone', { name: 'Two pools' }))['zone'] as { id: string }).id;
  const podid = ((await ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
  await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool A', hypervisor: 'XenServer', url: a.url, username: a.username, password: a.password });
  await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool B', hypervisor: 'XenServer', url: b.url, username: b.username, password: b.password });
  ids['network'] = ((await ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
  await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: options.template.slice(0, options.template.lastIndexOf('/')) });
  const ostypeid = ((await ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
  ids['template'] = ((await ok('registerTemplate', { name: 'cross-pool', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: options.template, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
  ids['small'] = ((await ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '1024' }))['serviceoffering'] as { id: string }).id;
  for (const h of [...options.hostsA, ...options.hostsB]) ids[h.name!] = ((await ok('listHosts', { name: h.name! }))['host'] as { id: string }[])[0]!.id;
  return {
    a, b, xa, xb, t, ids, ok, job,
    inPool: async (x, uuid) => Object.entries(await x.call<Record<string, Rec>>('VM.get_all_records')).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === uuid),
    row: (uuid) => t.engine.db.prepare('SELECT v.ref, v.state, h.name AS host, c.name AS cluster FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id JOIN clusters c ON c.id=v.cluster_id WHERE v.uuid=?').get(uuid) as Rec,
    async close() {
      t.engine.background.stop();
      await t.close();
      await a.stop();
      await b.stop();
    },
  };
}
