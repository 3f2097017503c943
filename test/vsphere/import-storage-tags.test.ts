/**
 * Storage tags on vcsim (issue 13, R48): listStoragePools shows the cluster's datastores (vcsim
 * with two, LocalDS_0 and LocalDS_1), updateStoragePool tags LocalDS_1, and a VM on LocalDS_0
 * imported with an offering whose storage tag only LocalDS_1 has is refused 431 (offering, tag and
 * pool named, nothing written) without migrateallowed, and with it is relocated live onto
 * LocalDS_1 by vCenter (RelocateVM_Task with the disk's datastore), Kiln recording the volume's new pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { asArray, asMoRef, asString, getProperties, type MoRef, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { dbFingerprint, testEngine, type TestEngine } from '../helpers/engine.js';
import { createVmWithDevices, defaultPlacement, vmDevices } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { vmwareCluster } from './vmware-zone.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('storage pools and storage tags on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let t: TestEngine;
  let vmRef: MoRef;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '2', '-pg-std', '1']);
    admin = await sim.connect();
    const where = await defaultPlacement(admin);
    vmRef = await createVmWithDevices(admin, { ...where, datastoreName: 'LocalDS_0' }, { name: 'tag-web', disksGiB: [4], nics: ['PG-VLAN101'], nicType: 'VirtualVmxnet3', oneController: true, powerOn: true });
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    const at = await vmwareCluster((command, params) => t.call(command, params), sim);
    Object.assign(ids, { zone: at.zoneid, pod: at.podid, cluster: at.clusterid });
    await t.ok('createNetwork', { name: 'net-101', zoneid: ids['zone'], guestiptype: 'L2', vlan: '101' });
    ids['gold'] = ((await t.ok('createServiceOffering', { name: 'vmw-gold', cpunumber: '1', cpuspeed: '500', memory: '64', tags: 'gold' }))['serviceoffering'] as { id: string }).id;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    admin?.close();
    sim?.stop();
  });

  it("lists the cluster's datastores as its pools, and tags one", async () => {
    const pools = (await t.ok('listStoragePools', { clusterid: ids['cluster']! }))['storagepool'] as { id: string; name: string; type: string; hypervisor: string; state: string; clustername: string; disksizetotal: number }[];
    expect([...new Set(pools.map((p) => p.name))].sort()).toEqual(['LocalDS_0', 'LocalDS_1']);
    // vcsim's local datastores are no VMFS or NFS (summary.type OTHER): CloudStack's PreSetup. Both hosts mount them: the cluster's.
    for (const p of pools) expect(p).toMatchObject({ type: 'PreSetup', scope: 'CLUSTER', hypervisor: 'VMware', state: 'Up', clustername: 'C0' });
    expect(pools).toHaveLength(2);
    for (const p of pools.filter((x) => x.name === 'LocalDS_1')) expect((await t.ok('updateStoragePool', { id: p.id, tags: 'gold' }))['storagepool']).toMatchObject({ tags: 'gold' });
  });

  it('refuses the import without migrateallowed (431 naming offering, tag and pool), and with it relocates the running VM onto the tagged datastore', async () => {
    const params = { clusterid: ids['cluster']!, name: 'tag-web', serviceofferingid: ids['gold']! };
    await t.ok('listStoragePools');
    const before = dbFingerprint(t.engine);
    const refused = await t.call('importUnmanagedInstance', params);
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/^serviceofferingid: service offering vmw-gold needs storage tag gold, which pool LocalDS_0 holding disk \S+ of VM tag-web lacks; pass migrateallowed=true/);
    expect(dbFingerprint(t.engine)).toBe(before);
    expect((await vmDevices(admin, vmRef)).disks[0]!.file).toMatch(/^\[LocalDS_0\]/);

    const job = await t.job('importUnmanagedInstance', { ...params, migrateallowed: 'true' });
    const vm = job['virtualmachine'] as { id: string; state: string };
    expect(vm.state).toBe('Running');
    // vcsim's RelocateVM_Task records the VM on the new datastore (it does not rewrite the disk's backing file name).
    const stores = asArray((await getProperties(admin, vmRef, ['datastore']))['datastore']).map((d) => asMoRef(d)!);
    const names = await Promise.all(stores.map(async (d) => asString((await getProperties(admin, d, ['name']))['name'])));
    expect(names).toContain('LocalDS_1');
    const root = t.engine.db.prepare(`SELECT p.name FROM volumes v JOIN storage_pools p ON p.id=v.pool_id WHERE v.vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND v.volume_type='ROOT'`).pluck().get(vm.id);
    expect(root).toBe('LocalDS_1');
  }, 60_000);
});
