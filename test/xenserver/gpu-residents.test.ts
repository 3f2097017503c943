/**
 * listGpuResidents on the xapi simulator's K1/K2 pool, through the engine: a VM deployed with a
 * K120Q offering is listed on its host with its group and type while it runs, the host's K120Q
 * remaining capacity in listHosts is one less than its maximum, and once it is stopped it holds no
 * GPU and the list is empty again; a non-GPU VM is never listed. explainPlacement for a GPU offering
 * (in a zone, or as a VM's new offering) refuses the host without that type, with the GPU filter's
 * reason, as deploy's placement does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';

const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const K2 = 'Group of NVIDIA Corporation GK104GL [GRID K2] GPUs';
/**
 * A template the pool already holds, registered in Kiln by its name as a host path (root admin,
 * inside kiln.template.local.dir): Kiln copies nothing and the driver clones the pool's template.
 */
const POOL_TEMPLATE = '/srv/xen-templates/kiln-gpu';

describe('listGpuResidents (XenServer, xapi simulator)', () => {
  let sim: XapiSim;
  let t: TestEngine;
  let ids: Record<string, string>;
  const ok = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const job = async (command: string, params: Record<string, string>) => t.engine.jobs.wait(String((await ok(command, params))['jobid']));
  const residents = async (params: Record<string, string> = {}) => ((await ok('listGpuResidents', params))['gpuresident'] ?? []) as Record<string, unknown>[];

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ gpus: ['K1', 'K2'], memoryGiB: 64 }, { memoryGiB: 64 }], vms: [{ name: POOL_TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    const zoneid = ((await ok('createZone', { name: 'Xen Zone' }))['zone'] as { id: string }).id;
    const podid = ((await ok('createPod', { name: 'Xen Pod', zoneid }))['pod'] as { id: string }).id;
    const clusterid = ((await ok('addCluster', { zoneid, podid, clustername: 'Pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password }))['cluster'] as { id: string }).id;
    const networkid = ((await ok('createNetwork', { name: 'Pool network', zoneid, userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    const ostypeid = ((await ok('listOsTypes', {}))['ostype'] as { id: string }[])[0]!.id;
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const templateid = ((await ok('registerTemplate', { name: 'xen-gpu', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: POOL_TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    const k120q = ((await ok('createServiceOffering', { name: 'K120Q', displaytext: 'K120Q', cpunumber: '1', cpuspeed: '1000', memory: '512', 'serviceofferingdetails[0].pciDevice': K1, 'serviceofferingdetails[0].vgpuType': 'GRID K120Q' }))['serviceoffering'] as { id: string }).id;
    const k260q = ((await ok('createServiceOffering', { name: 'K260Q', displaytext: 'K260Q', cpunumber: '1', cpuspeed: '1000', memory: '512', 'serviceofferingdetails[0].pciDevice': K2, 'serviceofferingdetails[0].vgpuType': 'GRID K260Q' }))['serviceoffering'] as { id: string }).id;
    const small = ((await ok('listServiceOfferings', {}))['serviceoffering'] as { id: string; name: string }[]).find((o) => o.name === 'Small Instance')!.id;
    ids = { zoneid, clusterid, networkid, templateid, k120q, k260q, small };
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  it('lists a running vGPU VM on its host with its group and type, and nothing once it stopped', async () => {
    expect(await residents()).toEqual([]);
    const plainJob = await job('deployVirtualMachine', { zoneid: ids['zoneid']!, templateid: ids['templateid']!, serviceofferingid: ids['small']!, networkids: ids['networkid']!, name: 'plain' });
    expect(plainJob['jobstatus']).toBe(1);
    const plain = plainJob['jobresult'] as { virtualmachine: { id: string } };
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zoneid']!, templateid: ids['templateid']!, serviceofferingid: ids['k120q']!, networkids: ids['networkid']!, name: 'cad1' });
    expect([deployed['jobstatus'], deployed['jobresult']]).toEqual([1, expect.anything()]);
    const vm = (deployed['jobresult'] as { virtualmachine: { id: string; hostid: string; hostname: string } }).virtualmachine;
    const list = await residents({ clusterid: ids['clusterid']! });
    expect(list).toEqual([expect.objectContaining({ virtualmachineid: vm.id, displayname: 'cad1', state: 'Running', hostid: vm.hostid, hostname: vm.hostname, gpugroupname: K1, vgputype: 'GRID K120Q', serviceofferingname: 'K120Q' })]);
    expect(await residents({ hostid: vm.hostid })).toHaveLength(1);
    const host = ((await ok('listHosts', { id: vm.hostid }))['host'] as { gpugroup: { gpugroupname: string; vgpu: { vgputype: string; remainingcapacity: number; maxcapacity: number }[] }[] }[])[0]!;
    const row = host.gpugroup.find((g) => g.gpugroupname === K1)!.vgpu.find((v) => v.vgputype === 'GRID K120Q')!;
    expect(row.remainingcapacity).toBe(row.maxcapacity - 1);

    expect((await job('stopVirtualMachine', { id: vm.id, forced: 'true' }))['jobstatus']).toBe(1);
    expect(await residents()).toEqual([]);
    for (const id of [vm.id, plain.virtualmachine.id]) expect((await job('destroyVirtualMachine', { id, expunge: 'true' }))['jobstatus']).toBe(1);
  });

  it('explainPlacement for a GPU offering refuses the host without its type, in a zone and as a VM\'s new offering', async () => {
    const verdicts = (placement: unknown) => Object.fromEntries(((placement as { hosts: { hostName: string; suitable: boolean; reason: string }[] }).hosts).map((h) => [h.hostName, [h.suitable, h.reason]]));
    const [gpuHost, plainHost] = sim.info.hosts.map((h) => h.name_label);
    const inZone = verdicts((await ok('explainPlacement', { zoneid: ids['zoneid']!, serviceofferingid: ids['k260q']! }))['placement']);
    expect(inZone[gpuHost!]).toEqual([true, 'suitable']);
    expect(inZone[plainHost!]).toEqual([false, `gpu: no free GRID K260Q in group ${K2}`]);
    const vm = (await job('deployVirtualMachine', { zoneid: ids['zoneid']!, templateid: ids['templateid']!, serviceofferingid: ids['small']!, networkids: ids['networkid']!, name: 'plain2', startvm: 'false' }))['jobresult'] as { virtualmachine: { id: string } };
    const asNew = verdicts((await ok('explainPlacement', { virtualmachineid: vm.virtualmachine.id, serviceofferingid: ids['k260q']! }))['placement']);
    expect(asNew[plainHost!]).toEqual([false, `gpu: no free GRID K260Q in group ${K2}`]);
    expect((await job('destroyVirtualMachine', { id: vm.virtualmachine.id, expunge: 'true' }))['jobstatus']).toBe(1);
  });

  it('is for admins: listApis publishes its parameters', async () => {
    const api = ((await ok('listApis', { name: 'listGpuResidents' }))['api'] as { name: string; params: { name: string }[] }[])[0]!;
    expect(api.params.map((p) => p.name)).toEqual(expect.arrayContaining(['hostid', 'clusterid', 'zoneid']));
  });
});
