/**
 * vSphere across clusters without migrateto: two vCenter clusters (Kiln clusters C0 and C1) whose
 * hosts all mount LocalDS_0, a datastore only C0's hosts mount (C0-only) and one C0's hosts and two
 * of C1's three mount (Partial), made here over SOAP.
 * A VM whose disks are on the shared datastore moves live to a host of C1 with its disks staying
 * there (compute-only vMotion): it ends Running on that host, in C1, its volume on the same
 * datastore (C1's record of it). A VM whose disk is on C0-only is refused for C1's hosts, each
 * verdict naming the volume, the pool and what the host reaches. A VM on Partial may go to the C1
 * hosts that mount it, not to the third: a datastore some of a cluster's hosts mount is theirs, not
 * the cluster's (each has its own record of it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { asMoRef, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { addVmwareCluster, callJob, listedVm, localDatastore, rootVolume, vmwareEngineSuite, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();

interface Vm { id: string; state: string; instancename: string; hostid?: string; hostname?: string }
interface Volume { id: string; type: string; storage?: string; storageid?: string }

describe.skipIf(!available)('vSphere: a live move to another cluster without migrateto', () => {
  const suite = vmwareEngineSuite(['-cluster', '2', '-host', '3', '-standalone-host', '0', '-vm', '0', '-ds', '1', '-task-time', '100ms'], {}, {
    timeout: 90_000,
    before: async (s) => {
      // C0-only: a datastore mounted by DC0_C0's hosts alone (vcsim mounts its -ds datastores on every host).
      await localDatastore(s.admin, 'C0-only', s.tempDir('kiln-c0-only-'), (h) => h.startsWith('DC0_C0_'));
      await localDatastore(s.admin, 'Partial', s.tempDir('kiln-partial-'), (h) => h !== 'DC0_C1_H2');
    },
  });
  let t: TestEngine;
  let z: VmwareZone;
  let admin: VimClient;
  let c1: { clusterid: string; hosts: Record<string, string> };

  const runJob = (command: string, params: Record<string, string>) => callJob(t, command, params);
  const vmOf = (id: string) => listedVm<Vm>(t, id);
  const rootOf = (id: string) => rootVolume<Volume>(t, id);
  const clusterOfHost = (hostUuid: string) => t.engine.db.prepare('SELECT c.uuid FROM hosts h JOIN clusters c ON c.id=h.cluster_id WHERE h.uuid=?').pluck().get(hostUuid) as string;
  const poolOf = (storageid: string) => t.engine.db.prepare('SELECT p.name, p.ref, c.uuid AS cluster FROM storage_pools p JOIN clusters c ON c.id=p.cluster_id WHERE p.uuid=?').get(storageid) as { name: string; ref: string; cluster: string };
  const vcenterHostOf = async (name: string) => {
    const objs = await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.host'] }]);
    return asMoRef(objs.find((o) => o.props['name'] === name)?.props['runtime.host'])?.value;
  };
  const hostRef = (uuid: string) => t.engine.db.prepare('SELECT ref FROM hosts WHERE uuid=?').pluck().get(uuid) as string;

  beforeAll(async () => {
    ({ t, z, admin } = suite);
    c1 = await addVmwareCluster((c, p) => t.call(c, p), suite.sim, z, 'C1', 'DC0/DC0_C1');
    // Both clusters' pools recorded (listStoragePools reads what the hosts reported).
    await t.call('listStoragePools', {});
  }, 60_000);

  /** A VM deployed on a host of C0, its root disk then moved (within C0) onto DATASTORE, so its volume is recorded on C0's record of it. */
  const vmOn = async (name: string, datastore: string) => {
    const [first, second] = Object.values(z.hosts);
    const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, hostid: first!, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    const root = await rootOf(vm.id);
    const moved = await runJob('migrateVirtualMachineWithVolume', { virtualmachineid: vm.id, hostid: second!, 'migrateto[0].volume': root.id, 'migrateto[0].pool': datastore });
    expect(moved.job['jobstatus'], JSON.stringify(moved.job['jobresult'])).toBe(1);
    const recorded = await rootOf(vm.id);
    expect(recorded.storage).toBe(datastore);
    expect(poolOf(recorded.storageid!)).toMatchObject({ name: datastore, cluster: z.clusterid });
    return { vm: await vmOf(vm.id), root: recorded };
  };
  const suitability = async (vmId: string) =>
    Object.fromEntries(((await t.call('findHostsForMigration', { id: vmId })).body['host'] as { id: string; suitableformigration: boolean; reason: string }[]).map((h) => [h.id, h.suitableformigration ? 'suitable' : h.reason]));
  /** findHostsForMigration's requiresstoragemotion by host id (the UI's migrate dialog then asks for a pool and moves the volumes). */
  const storageMotion = async (vmId: string) =>
    Object.fromEntries(((await t.call('findHostsForMigration', { id: vmId })).body['host'] as { id: string; requiresstoragemotion: boolean }[]).map((h) => [h.id, h.requiresstoragemotion]));

  it('a VM whose disk is on the datastore both clusters mount moves live to a host of the other cluster; it runs there, recorded in that cluster, its volume on the same datastore', async () => {
    const { vm, root } = await vmOn('shared-ds', 'LocalDS_0');
    const [dest, other, third] = Object.values(c1.hosts);
    // findHostsForMigration offers both of C1's hosts.
    const offered = await suitability(vm.id);
    expect(offered[dest!]).toBe('suitable');
    expect(offered[other!]).toBe('suitable');
    expect(offered[third!]).toBe('suitable');
    // ... as a move that needs no storage motion: the disk stays where both clusters' hosts reach it.
    expect(await storageMotion(vm.id)).toMatchObject({ [dest!]: false, [other!]: false, [third!]: false });
    const run = await runJob('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: dest! });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: dest });
    expect(clusterOfHost(dest!)).toBe(c1.clusterid);
    expect(t.engine.db.prepare('SELECT c.uuid FROM vm_instances v JOIN clusters c ON c.id=v.cluster_id WHERE v.uuid=?').pluck().get(vm.id)).toBe(c1.clusterid);
    expect(await vcenterHostOf(vm.instancename)).toBe(hostRef(dest!));
    // Its disk stayed on LocalDS_0, now on C1's record of that datastore.
    const after = await rootOf(vm.id);
    expect(after.storage).toBe('LocalDS_0');
    expect(poolOf(after.storageid!)).toMatchObject({ name: 'LocalDS_0', ref: poolOf(root.storageid!).ref, cluster: c1.clusterid });
    // And back to a host of C0 the same way, by migrateVirtualMachineWithVolume naming no volume to move.
    const home = Object.values(z.hosts)[0]!;
    const back = await runJob('migrateVirtualMachineWithVolume', { virtualmachineid: vm.id, hostid: home });
    expect(back.job['jobstatus'], JSON.stringify(back.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: home });
    expect(poolOf((await rootOf(vm.id)).storageid!)).toMatchObject({ name: 'LocalDS_0', cluster: z.clusterid });
  });

  it('a VM whose disk is on a datastore only its own cluster mounts is refused for the other cluster\'s hosts, saying why, and stays where it is', async () => {
    const { vm, root } = await vmOn('c0-only', 'C0-only');
    const reason = /^volume ROOT-\d+ is on pool C0-only of cluster C0, which this host \(cluster C1\) does not reach \(it reaches (LocalDS_0, Partial|Partial, LocalDS_0|LocalDS_0)\)$/;
    const offered = await suitability(vm.id);
    for (const h of Object.values(c1.hosts)) expect(offered[h]).toMatch(reason);
    const motion = await storageMotion(vm.id);
    expect(Object.values(c1.hosts).map((h) => motion[h])).toEqual([true, true, true]);
    const dest = Object.values(c1.hosts)[0]!;
    const run = await runJob('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: dest });
    expect(run.status).toBe(533);
    expect(String(run.job['jobresult'] && (run.job['jobresult'] as Record<string, unknown>)['errortext'])).toMatch(/^Cannot migrate VM c0-only: DC0_C1_H\d: volume ROOT-\d+ is on pool C0-only of cluster C0, which this host \(cluster C1\) does not reach \(it reaches (LocalDS_0, Partial|Partial, LocalDS_0)\)$/);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: vm.hostid });
    expect(await vcenterHostOf(vm.instancename)).toBe(hostRef(vm.hostid!));
    expect((await rootOf(vm.id)).storageid).toBe(root.storageid);
  });

  it('a VM on a datastore only some of the other cluster\'s hosts mount may go to those hosts, not to the one that does not mount it, which says why', async () => {
    const { vm } = await vmOn('partial', 'Partial');
    const names = Object.keys(c1.hosts).sort();
    const [h0, h1, h2] = names.map((n) => c1.hosts[n]!);
    expect(names).toEqual(['DC0_C1_H0', 'DC0_C1_H1', 'DC0_C1_H2']);
    // C1's hosts that mount it have it as their own (HOST) record; the third has none.
    expect(t.engine.db.prepare(`SELECT h.name, p.scope FROM storage_pools p JOIN clusters c ON c.id=p.cluster_id LEFT JOIN hosts h ON h.id=p.host_id WHERE p.name='Partial' AND c.uuid=? ORDER BY h.name`).all(c1.clusterid))
      .toEqual([{ name: 'DC0_C1_H0', scope: 'HOST' }, { name: 'DC0_C1_H1', scope: 'HOST' }]);
    const offered = await suitability(vm.id);
    expect(offered[h0!]).toBe('suitable');
    expect(offered[h1!]).toBe('suitable');
    expect(offered[h2!]).toMatch(/^volume ROOT-\d+ is on pool Partial of cluster C0, which this host \(cluster C1\) does not reach \(it reaches LocalDS_0\)$/);
    const refused = await runJob('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: h2! });
    expect(refused.status).toBe(533);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: vm.hostid });
    const run = await runJob('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: h1! });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: h1 });
    expect(await vcenterHostOf(vm.instancename)).toBe(hostRef(h1!));
    // On the record of the host it runs on.
    const root = await rootOf(vm.id);
    expect(root.storage).toBe('Partial');
    expect(t.engine.db.prepare('SELECT h.uuid FROM storage_pools p JOIN hosts h ON h.id=p.host_id WHERE p.uuid=?').pluck().get(root.storageid)).toBe(h1);
  });
});
