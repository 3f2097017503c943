/**
 * A XenServer VM Kiln takes over carries Kiln's mark as a VM Kiln makes does (xapi simulator):
 * importUnmanagedInstance writes Kiln's uuid of the VM into its other_config (kiln_uuid), which
 * is how the reconcile finds it after a move whose answer was lost (moved-after-all.ts).
 * unmanageVirtualMachine takes the mark off again: the VM, still running, is listed by
 * listUnmanagedInstances once more, and a new import takes it over under a new uuid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-import-mark';
type Rec = Record<string, unknown>;

describe('the mark of an imported XenServer VM (xapi simulator)', () => {
  let sim: XapiSim;
  let x: Session;
  let t: TestEngine;
  const ids: Record<string, string> = {};
  /** The VM's other_config in the pool, read through xapi. */
  const otherConfig = async (name: string): Promise<Record<string, string>> => {
    const [ref] = await x.call<string[]>('VM.get_by_name_label', name);
    return x.call<Record<string, string>>('VM.get_other_config', ref!);
  };
  const unmanaged = async (name: string) => ((await t.ok('listUnmanagedInstances', { clusterid: ids['cluster']!, name }))['unmanagedinstance'] as Rec[] | undefined) ?? [];
  const importIt = async (name: string): Promise<Rec> => {
    const nic = ((await unmanaged(name))[0]!['nic'] as Rec[])[0]!;
    return (await t.job('importUnmanagedInstance', {
      clusterid: ids['cluster']!, name, serviceofferingid: ids['small']!, templateid: ids['template']!,
      'nicnetworklist[0].nic': String(nic['id']), 'nicnetworklist[0].network': ids['network']!,
    }))['virtualmachine'] as Rec;
  };

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xs-host-1' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    x = await Session.login(sim.url, sim.username, sim.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    ids['zone'] = ((await t.ok('createZone', { name: 'Mark' }))['zone'] as { id: string }).id;
    const podid = ((await t.ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await t.ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    ids['cluster'] = (((await t.ok('listClusters', { name: 'Pool' }))['cluster'] as Rec[])[0]!)['id'] as string;
    ids['network'] = ((await t.ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await t.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await t.ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await t.ok('registerTemplate', { name: 'os', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    ids['small'] = ((await t.ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '1024' }))['serviceoffering'] as { id: string }).id;
  }, 90_000);
  afterAll(async () => {
    t?.engine.background.stop();
    await t?.close();
    await sim?.stop();
  });

  it('importUnmanagedInstance marks the VM with Kiln\'s uuid; unmanageVirtualMachine removes the mark, the VM is unmanaged again and a new import takes it over', async () => {
    await sim.control('add-vm', { vm: { name: 'legacy-app', power_state: 'Running' } });
    // Kiln's session reads it once xapi's events say so.
    const until = Date.now() + 20_000;
    while ((await unmanaged('legacy-app')).length === 0) {
      if (Date.now() > until) throw new Error('legacy-app was never listed');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await otherConfig('legacy-app')).not.toHaveProperty('kiln_uuid');

    const first = await importIt('legacy-app');
    expect([first['state'], first['hostname']]).toEqual(['Running', 'xs-host-1']);
    expect((await otherConfig('legacy-app'))['kiln_uuid']).toBe(first['id']);
    expect(await unmanaged('legacy-app')).toEqual([]);

    await t.job('unmanageVirtualMachine', { id: String(first['id']) });
    expect(await otherConfig('legacy-app')).not.toHaveProperty('kiln_uuid');
    const [ref] = await x.call<string[]>('VM.get_by_name_label', 'legacy-app');
    expect(await x.call('VM.get_power_state', ref!)).toBe('Running');
    const listed = await unmanaged('legacy-app');
    expect(listed.map((u) => [u['name'], u['powerstate']])).toEqual([['legacy-app', 'PowerOn']]);

    const second = await importIt('legacy-app');
    expect([second['state'], second['hostname'], second['id'] === first['id']]).toEqual(['Running', 'xs-host-1', false]);
    expect((await otherConfig('legacy-app'))['kiln_uuid']).toBe(second['id']);
    expect(((await t.ok('listVirtualMachines', { id: String(second['id']) }))['virtualmachine'] as Rec[]).map((v) => v['state'])).toEqual(['Running']);
  }, 60_000);
});
