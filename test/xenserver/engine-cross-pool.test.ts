/**
 * Live migration across XenServer pools (R20) through the engine's API: two xapi simulator pools,
 * each a Kiln cluster of one zone. migrateVirtualMachine to a host of the other cluster runs
 * host.migrate_receive on the destination pool and VM.migrate_send on the source: the VM ends
 * Running in the other pool, its disk on that pool's SR, gone from the first, and Kiln records the
 * new host, cluster, refs and volume pool. migrateVirtualMachineWithVolume brings it back with its
 * disk on the SR named in migrateto. A GPU VM is refused with 431 (never xapi's VM_HAS_VGPU) and
 * stays where it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoXenPools, type TwoXenPools } from '../helpers/two-xen-pools.js';
import type { XapiSim } from '../helpers/xapi-sim.js';
import type { Session } from '../xapi-sim/rpc-client.js';
import type { TestEngine } from '../helpers/engine.js';

const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const TEMPLATE = '/srv/xen-templates/kiln-cross-pool';
type Rec = Record<string, unknown>;

describe('live migration across XenServer pools (xapi simulator)', () => {
  let pools: TwoXenPools;
  let a: XapiSim;
  let b: XapiSim;
  let xa: Session;
  let xb: Session;
  let t: TestEngine;
  const ids: Record<string, string> = {};
  const ok = (command: string, params: Record<string, string> = {}) => pools.ok(command, params);
  const job = (command: string, params: Record<string, string>) => pools.job(command, params);
  const inPool = (x: Session, uuid: string) => pools.inPool(x, uuid);
  const row = (uuid: string) => pools.row(uuid);
  const volumes = (uuid: string) => t.engine.db.prepare('SELECT o.ref, o.pool FROM volumes o JOIN vm_instances v ON v.id=o.vm_id WHERE v.uuid=? AND o.removed IS NULL').all(uuid) as { ref: string; pool: string }[];
  const vdiSr = async (x: Session, vdi: string) => x.call<string>('SR.get_name_label', await x.call<string>('VDI.get_SR', vdi));

  beforeAll(async () => {
    pools = await twoXenPools({ template: TEMPLATE, hostsA: [{ name: 'a-host-1', gpus: ['K1'] }, { name: 'a-host-2' }], hostsB: [{ name: 'b-host-1', gpus: ['K1'] }] });
    ({ a, b, xa, xb, t } = pools);
    Object.assign(ids, pools.ids);
    ids['k140q'] = ((await ok('createServiceOffering', { name: 'K140Q', displaytext: 'K140Q', cpunumber: '1', cpuspeed: '1000', memory: '1024', 'serviceofferingdetails[0].pciDevice': K1, 'serviceofferingdetails[0].vgpuType': 'GRID K140Q' }))['serviceoffering'] as { id: string }).id;
  }, 90_000);
  afterAll(async () => {
    await pools?.close();
  });

  let vm = '';
  it('migrateVirtualMachine to a host of the other pool: Running there, disk on its SR, gone from the first pool, Kiln records updated', async () => {
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: ids['network']!, hostid: ids['a-host-2']!, name: 'mover' });
    expect(deployed['jobstatus']).toBe(1);
    vm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const before = row(vm);
    expect([before['host'], before['cluster']]).toEqual(['a-host-2', 'Pool A']);
    const [[oldRef]] = await inPool(xa, vm);
    expect(before['ref']).toBe(oldRef);
    // The migrate dialog's list: the other pool's host is offered (the capability decides).
    const offered = (await ok('findHostsForMigration', { id: vm }))['host'] as { name: string; suitableformigration: boolean; requiresstoragemotion: boolean }[];
    expect(offered.find((h) => h.name === 'b-host-1')).toMatchObject({ suitableformigration: true, requiresstoragemotion: true });
    // The VM's own pool's hosts share its SR.
    expect(offered.filter((h) => !h.name.startsWith('b-')).map((h) => h.requiresstoragemotion)).not.toContain(true);

    const moved = await job('migrateVirtualMachine', { virtualmachineid: vm, hostid: ids['b-host-1']! });
    expect([moved['jobstatus'], (moved['jobresult'] as { virtualmachine: Rec }).virtualmachine]).toEqual([1, expect.objectContaining({ id: vm, state: 'Running', hostid: ids['b-host-1'], hostname: 'b-host-1' })]);
    expect(await inPool(xa, vm)).toEqual([]);
    const there = await inPool(xb, vm);
    expect(there).toHaveLength(1);
    const [newRef, rec] = there[0]!;
    expect([rec['power_state'], rec['resident_on']]).toEqual(['Running', b.info.hosts[0]!.ref]);
    expect(row(vm)).toEqual({ ref: newRef, state: 'Running', host: 'b-host-1', cluster: 'Pool B' });
    const vols = volumes(vm);
    expect(vols).toHaveLength(1);
    expect(await vdiSr(xb, vols[0]!.ref)).toBe('NFS virtual disk storage');
    expect(vols[0]!.pool).toBe('NFS virtual disk storage');
    // And the API shows it: listVirtualMachines says where it runs.
    const listed = ((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!;
    expect([listed['state'], listed['hostname']]).toEqual(['Running', 'b-host-1']);
  });

  it('migrateVirtualMachineWithVolume back to the first pool puts the disk on the SR named in migrateto', async () => {
    expect(row(vm)['cluster']).toBe('Pool B');
    const volume = ((await ok('listVolumes', { virtualmachineid: vm }))['volume'] as { id: string }[])[0]!.id;
    const moved = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, hostid: ids['a-host-1']!, 'migrateto[0].volume': volume, 'migrateto[0].pool': 'Local storage on a-host-1' });
    expect([moved['jobstatus'], (moved['jobresult'] as { virtualmachine: Rec }).virtualmachine]).toEqual([1, expect.objectContaining({ state: 'Running', hostid: ids['a-host-1'] })]);
    expect(await inPool(xb, vm)).toEqual([]);
    const [[ref, rec]] = await inPool(xa, vm);
    expect(rec['resident_on']).toBe(a.info.hosts[0]!.ref);
    expect(row(vm)).toEqual({ ref, state: 'Running', host: 'a-host-1', cluster: 'Pool A' });
    const vols = volumes(vm);
    expect(await vdiSr(xa, vols[0]!.ref)).toBe('Local storage on a-host-1');
    // What a user sees: the volume on the pool record of that SR (its name, and its uuid as storageid).
    const localA = ((await ok('listStoragePools', { name: 'Local storage on a-host-1' }))['storagepool'] as Rec[]).filter((p) => p['name'] === 'Local storage on a-host-1');
    expect(localA).toHaveLength(1);
    const listed = ((await ok('listVolumes', { id: volume }))['volume'] as Rec[])[0]!;
    expect([listed['storage'], listed['storageid']]).toEqual(['Local storage on a-host-1', localA[0]!['id']]);
  });

  it('an answer lost on the way (task.get_record cut twice, past the client\'s own retry, while the task runs) still ends with the VM recorded in the pool it moved to', async () => {
    expect(row(vm)['cluster']).toBe('Pool A');
    await a.control('fault', { method: 'task.get_record', drop: true, count: 2 });
    const moved = await job('migrateVirtualMachine', { virtualmachineid: vm, hostid: ids['b-host-1']! });
    expect([moved['jobstatus'], moved['jobresult']]).toEqual([1, expect.anything()]);
    expect(await inPool(xa, vm)).toEqual([]);
    const [[ref]] = await inPool(xb, vm);
    expect(row(vm)).toEqual({ ref, state: 'Running', host: 'b-host-1', cluster: 'Pool B' });
  });

  it('a GPU VM is refused with 431 (not VM_HAS_VGPU) and stays on its host in its pool', async () => {
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['k140q']!, networkids: ids['network']!, hostid: ids['a-host-1']!, name: 'cad' });
    expect(deployed['jobstatus']).toBe(1);
    const gpuVm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const before = row(gpuVm);
    const vols = volumes(gpuVm);
    const volume = ((await ok('listVolumes', { virtualmachineid: gpuVm }))['volume'] as { id: string }[])[0]!.id;
    const refused = await job('migrateVirtualMachineWithVolume', { virtualmachineid: gpuVm, hostid: ids['b-host-1']!, 'migrateto[0].volume': volume, 'migrateto[0].pool': 'NFS virtual disk storage' });
    const result = refused['jobresult'] as { errorcode: number; errortext: string };
    expect([refused['jobstatus'], result.errorcode]).toEqual([2, 431]);
    expect(result.errortext).toMatch(/GPU/);
    expect(result.errortext).not.toMatch(/VM_HAS_VGPU/);
    expect(row(gpuVm)).toEqual(before);
    expect(volumes(gpuVm)).toEqual(vols);
    expect(await inPool(xb, gpuVm)).toEqual([]);
    const [[, rec]] = await inPool(xa, gpuVm);
    expect([rec['power_state'], rec['resident_on']]).toEqual(['Running', a.info.hosts[0]!.ref]);
  });
});
