/**
 * Storage tags on vSphere pick a datastore by its pool record, and the driver finds the datastore
 * by the record's ref (the datastore's moref, datastore-N), the one identity every path uses:
 * deploy's root and data disks, createVolume+attachVolume, migrateVirtualMachineWithVolume's
 * migrateto. vcsim with two datacenters (-ds 0), both Kiln clusters (C0: DC0's, C1: DC1's), each
 * mounting a "fast" and a "slow" made here over SOAP: names are unique in a datacenter, not in a
 * vCenter, and a lookup by name finds DC0's first. On C1, fast is tagged ssd: the tagged offerings'
 * disks are on DC1's fast, as vCenter has it (the VM's datastores and each disk's backing, by
 * moref), and the move (to C1's other host, the data disk to the slow pool named by migrateto)
 * puts the data disk on DC1's slow. Before, the deploy failed 431 "no datastore named <the pool's
 * ref>" (the driver looked the engine's ref up as a name), and the move, handed the pool's name,
 * took DC0's slow and was refused as not mounted on the host.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, asMoRef, asObject, asString, getProperties, retrieveInventory, type MoRef, type VimClient } from '../../drivers/vsphere/soap/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { addVmwareCluster, localDatastore, vmwareEngineSuite, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();

interface Vm { id: string; state: string; instancename: string; hostid?: string }
interface Volume { id: string; name: string; type: string; path?: string; storage?: string; storageid?: string; virtualmachineid?: string }

describe.skipIf(!available)('vSphere: a tagged disk goes to the datastore of its pool record, found by moref', () => {
  /** DC1's datastores by name, and DC0's namesakes. */
  const ds: Record<string, MoRef> = {};
  const suite = vmwareEngineSuite(['-dc', '2', '-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '0', '-task-time', '100ms'], {}, {
    timeout: 120_000,
    before: async (s) => {
      const make = (prefix: string, name: string) => localDatastore(s.admin, name, s.tempDir(`kiln-${prefix}-${name}-`), (h) => h.startsWith(`${prefix}_C0_`));
      // DC0's namesakes come first in vCenter's inventory (its first datacenter).
      ds['DC0 fast'] = await make('DC0', 'fast');
      ds['DC0 slow'] = await make('DC0', 'slow');
      ds['fast'] = await make('DC1', 'fast');
      ds['slow'] = await make('DC1', 'slow');
    },
  });
  let t: TestEngine;
  let z: VmwareZone;
  let admin: VimClient;
  const pools: Record<string, string> = {};
  const offerings: Record<string, string> = {};
  /** Kiln's hosts of cluster C1 (DC1's DC1_C0). */
  const hosts: string[] = [];

  const runJob = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    if (typeof res.body['jobid'] !== 'string') return { job: { jobstatus: 2, jobresult: res.body } as Record<string, unknown>, status: res.status };
    const job = await t.engine.jobs.wait(res.body['jobid']);
    return { job, status: job['jobstatus'] === 1 ? 200 : Number((job['jobresult'] as Record<string, unknown>)['errorcode'] ?? 530) };
  };
  const volumesOf = async (virtualmachineid: string): Promise<Volume[]> => (await t.call('listVolumes', { virtualmachineid })).body['volume'] as Volume[];
  const vcenterVm = async (name: string) => {
    const objs = await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }]);
    return objs.find((o) => o.props['name'] === name)!.obj;
  };
  /** Where vCenter has the VM: its datastores, and each disk's backing datastore and file, by moref value. */
  const storageOf = async (vm: MoRef) => {
    const props = await getProperties(admin, vm, ['datastore', 'config.hardware.device']);
    const disks = asArray(props['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk').map((d) => {
      const backing = asObject(d['backing']);
      return { datastore: asMoRef(backing['datastore'])?.value, file: asString(backing['fileName']) ?? '' };
    });
    return { datastores: asArray(props['datastore']).map((d) => asMoRef(d)!.value).sort(), disks };
  };

  beforeAll(async () => {
    ({ t, z, admin } = suite);
    expect(ds['DC0 fast']!.value).not.toBe(ds['fast']!.value);
    const { clusterid, hosts: c1 } = await addVmwareCluster((c, p) => t.call(c, p), suite.sim, z, 'C1', 'DC1/DC1_C0');
    hosts.push(...Object.values(c1));
    const listed = (await t.ok('listStoragePools', { clusterid }))['storagepool'] as { id: string; name: string; scope: string }[];
    expect(listed.map((p) => p.name).sort()).toEqual(['fast', 'slow']);
    for (const p of listed) pools[p.name] = p.id;
    expect((await t.ok('updateStoragePool', { id: pools['fast']!, tags: 'ssd' }))['storagepool']).toMatchObject({ name: 'fast', tags: 'ssd' });
    offerings['ssd'] = ((await t.ok('createServiceOffering', { name: 'vmw-ssd', cpunumber: '1', cpuspeed: '500', memory: '64', tags: 'ssd' }))['serviceoffering'] as { id: string }).id;
    offerings['ssd-disk'] = ((await t.ok('createDiskOffering', { name: 'ssd-disk', displaytext: 'ssd disk', disksize: '1', tags: 'ssd' }))['diskoffering'] as { id: string }).id;
  }, 60_000);

  it('deployVirtualMachine with a tagged service and disk offering puts the root and the data disk on DC1\'s fast', async () => {
    const host = hosts[0]!;
    const { job, status } = await runJob('deployVirtualMachine', {
      zoneid: z.zoneid, hostid: host, templateid: z.templateid, serviceofferingid: offerings['ssd']!, diskofferingid: offerings['ssd-disk']!, networkids: z.networkid, name: 'tagged',
    });
    expect(status, JSON.stringify(job['jobresult'])).toBe(200);
    const vm = (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Running', hostid: host });
    const volumes = await volumesOf(vm.id);
    expect(volumes.map((v) => [v.type, v.storage, v.storageid])).toEqual([['ROOT', 'fast', pools['fast']], ['DATADISK', 'fast', pools['fast']]]);
    const at = await storageOf(await vcenterVm(vm.instancename));
    expect(at.datastores).toEqual([ds['fast']!.value]);
    expect(at.disks.map((d) => d.datastore)).toEqual([ds['fast']!.value, ds['fast']!.value]);
    for (const d of at.disks) expect(d.file).toMatch(/^\[fast\] /);
  }, 60_000);

  it('createVolume with the tagged disk offering and attachVolume put the disk on DC1\'s fast; migrateVirtualMachineWithVolume moves it to slow', async () => {
    const [host, other] = hosts as [string, string];
    // An untagged VM (Small Instance): its root disk goes where vCenter puts the clone.
    const { job, status } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, hostid: host, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'plain' });
    expect(status, JSON.stringify(job['jobresult'])).toBe(200);
    const vm = (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    const created = await runJob('createVolume', { name: 'ssd-data', zoneid: z.zoneid, diskofferingid: offerings['ssd-disk']! });
    expect(created.status, JSON.stringify(created.job['jobresult'])).toBe(200);
    const volume = (created.job['jobresult'] as { volume: Volume }).volume;
    const attached = await runJob('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    expect(attached.status, JSON.stringify(attached.job['jobresult'])).toBe(200);
    const data = (await volumesOf(vm.id)).find((v) => v.id === volume.id)!;
    expect([data.storage, data.storageid]).toEqual(['fast', pools['fast']]);
    const ref = await vcenterVm(vm.instancename);
    const disk = (await storageOf(ref)).disks.find((d) => d.file.endsWith(` ${data.path}`))!;
    expect(disk, JSON.stringify(await storageOf(ref))).toBeDefined();
    expect(disk.datastore).toBe(ds['fast']!.value);

    // slow takes the disk offering's tag too: the move is the storage tags' to allow.
    await t.ok('updateStoragePool', { id: pools['slow']!, tags: 'ssd' });
    const moved = await runJob('migrateVirtualMachineWithVolume', { virtualmachineid: vm.id, hostid: other, 'migrateto[0].volume': volume.id, 'migrateto[0].pool': pools['slow']! });
    expect(moved.status, JSON.stringify(moved.job['jobresult'])).toBe(200);
    const after = (await volumesOf(vm.id)).find((v) => v.id === volume.id)!;
    expect([after.storage, after.storageid]).toEqual(['slow', pools['slow']]);
    const where = await storageOf(ref);
    expect(where.datastores).toContain(ds['slow']!.value);
    expect(where.datastores).not.toContain(ds['DC0 slow']!.value);
    expect(((await t.call('listVirtualMachines', { id: vm.id })).body['virtualmachine'] as Vm[])[0]).toMatchObject({ state: 'Running', hostid: other });
  }, 60_000);
});
