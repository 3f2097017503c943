/**
 * A vSphere root disk deployed with an untagged offering is on a pool record from its first start:
 * Kiln names no datastore for it, so the clone goes where vCenter puts it, and the driver's define
 * reports that datastore (DefineResult.disks[].pool) for the engine to record. Two vCenter clusters
 * (Kiln clusters C0 and C1) with no datastore in common: C0-only, mounted by C0's hosts, and
 * C1-only, by C1's, made here over SOAP (vcsim -ds 0). The VM deployed on C0 has its root volume on
 * C0-only (listVolumes storage/storageid), and migrateVirtualMachine to a host of C1 is placement's
 * 533 naming the volume, the pool and what that host reaches, before any vCenter task: no task on
 * the VM, which stays Running where it was. Before, the volume had no pool record (the driver sends
 * no default datastore), so placement had no say and only vCenter's task would refuse the move.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, asMoRef, asObject, asString, getProperties, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { addVmwareCluster, callJob, listedVm, localDatastore, rootVolume, vmwareEngineSuite, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();

interface Vm { id: string; state: string; instancename: string; hostid?: string }
interface Volume { id: string; name: string; storage?: string; storageid?: string }

describe.skipIf(!available)('vSphere: an untagged offering\'s root disk is on its datastore\'s pool record', () => {
  const suite = vmwareEngineSuite(['-cluster', '2', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '0', '-task-time', '100ms'], {}, {
    timeout: 90_000,
    before: async (s) => {
      for (const cluster of ['C0', 'C1']) await localDatastore(s.admin, `${cluster}-only`, s.tempDir(`kiln-${cluster}-only-`), (h) => h.startsWith(`DC0_${cluster}_`));
    },
  });
  let t: TestEngine;
  let z: VmwareZone;
  let admin: VimClient;
  let c1: Record<string, string>;

  const runJob = (command: string, params: Record<string, string>) => callJob(t, command, params);
  const vmOf = (id: string) => listedVm<Vm>(t, id);
  const rootOf = (id: string) => rootVolume<Volume>(t, id);
  const hostRef = (uuid: string) => t.engine.db.prepare('SELECT ref FROM hosts WHERE uuid=?').pluck().get(uuid) as string;
  const vcenterVm = async (name: string) => {
    const objs = await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.host'] }]);
    const vm = objs.find((o) => o.props['name'] === name);
    return { ref: vm?.obj, host: asMoRef(vm?.props['runtime.host'])?.value };
  };
  /** The names of the tasks vCenter has on record (TaskManager.recentTask) for the VM REF. */
  const tasksOn = async (ref: string) => {
    const recent = asArray((await getProperties(admin, admin.serviceContent.taskManager!, ['recentTask']))['recentTask']).map((r) => asMoRef(r)!);
    const infos = await Promise.all(recent.map(async (task) => asObject((await getProperties(admin, task, ['info']))['info'])));
    return infos.filter((i) => asMoRef(i['entity'])?.value === ref).map((i) => asString(i['descriptionId']) ?? asString(i['name']));
  };

  beforeAll(async () => {
    ({ t, z, admin } = suite);
    c1 = (await addVmwareCluster((c, p) => t.call(c, p), suite.sim, z, 'C1', 'DC0/DC0_C1')).hosts;
  }, 60_000);

  it('the root volume is recorded on the datastore the clone went to, and a move to a host of the other cluster is a 533 naming that pool, with no vCenter task', async () => {
    const first = Object.values(z.hosts)[0]!;
    // Small Instance has no storage tags: Kiln names no datastore for the root disk.
    const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, hostid: first, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'untagged' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = await vmOf((job['jobresult'] as { virtualmachine: Vm }).virtualmachine.id);
    expect(vm).toMatchObject({ state: 'Running', hostid: first });
    // Recorded as it ran, with no list of the pools in between: C0's record of C0-only.
    const root = await rootOf(vm.id);
    expect(root.storage).toBe('C0-only');
    expect(t.engine.db.prepare('SELECT p.name, c.uuid AS cluster FROM storage_pools p JOIN clusters c ON c.id=p.cluster_id WHERE p.uuid=?').get(root.storageid)).toEqual({ name: 'C0-only', cluster: z.clusterid });

    const at = await vcenterVm(vm.instancename);
    expect(at.host).toBe(hostRef(first));
    const before = await tasksOn(at.ref!.value);
    // The count sees the VM's tasks (its deploy's clone, reconfigure and power-on).
    expect(before).toContain('VirtualMachine.powerOn');
    const dest = c1['DC0_C1_H0']!;
    const run = await runJob('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: dest });
    expect(run.status, JSON.stringify(run.job['jobresult'])).toBe(533);
    expect(String((run.job['jobresult'] as Record<string, unknown>)['errortext'])).toBe(
      `Cannot migrate VM untagged: DC0_C1_H0: volume ${root.name} is on pool C0-only of cluster C0, which this host (cluster C1) does not reach (it reaches C1-only)`,
    );
    // Nothing asked of vCenter: no task on the VM since, which runs where it was.
    expect(await tasksOn(at.ref!.value)).toEqual(before);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: first });
    expect((await vcenterVm(vm.instancename)).host).toBe(hostRef(first));
    expect((await rootOf(vm.id)).storageid).toBe(root.storageid);
  });
});
