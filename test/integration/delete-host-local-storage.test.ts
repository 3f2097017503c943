/**
 * deleteHost forcedestroylocalstorage=true against a real `kiln serve` (simulator zone), as
 * CloudStack's deleteRoutingHost: the VMs with a volume on the host's local storage are destroyed
 * (and expunged: their pool goes) through the normal path, one destroyVirtualMachine job each (a
 * running one stopped first), their disks removed on the host, their events written, the account's
 * counts down; the detached volumes there are deleted; a data volume of such a VM elsewhere stays,
 * detached; the local pool and the host go. Without the flag the refusal names the volumes and
 * changes nothing. A VM on the shared storage of another host is untouched. A kill -9 of the
 * process in the middle leaves a settled state: the host kept, the VMs done gone, the one whose
 * destroy was cut off settled by the restart (its job saying so), and a second delete finishes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { serveApi, idOf, type Body, type ServeApi } from '../helpers/serve-api.js';

let kiln: KilnProcess;
let api: ServeApi;
let zoneid: string;
let templateid: string;
let serviceofferingid: string;
let diskofferingid: string;

const list = async <T = Body>(command: string, key: string, params: Record<string, string> = {}): Promise<T[]> => ((await api.ok(command, params))[key] as T[] | undefined) ?? [];
/** The simulator's disks, as its state file holds them (what is on the "hosts"). */
const simDisks = () => Object.keys((JSON.parse(readFileSync(join(kiln.dataDir, 'simulator.json'), 'utf8')) as { disks: Record<string, string> }).disks);
const volumeOf = async (vmId: string, type: string) => (await list<{ id: string; name: string; path?: string }>('listVolumes', 'volume', { virtualmachineid: vmId, type }))[0]!;

/** Points the helpers at K (its API and its seed's ids). */
async function useKiln(k: KilnProcess): Promise<void> {
  api = serveApi(k);
  zoneid = idOf(await api.ok('listZones', { name: 'Demo' }), 'zone');
  templateid = idOf(await api.ok('listTemplates', { templatefilter: 'all', name: 'Debian 12' }), 'template');
  serviceofferingid = idOf(await api.ok('listServiceOfferings', { name: 'Small Instance' }), 'serviceoffering');
  diskofferingid = (await list<{ id: string; disksize: number; iscustomized?: boolean }>('listDiskOfferings', 'diskoffering')).find((o) => !o.iscustomized && o.disksize > 0)!.id;
}

beforeAll(async () => {
  kiln = await startKiln({ args: ['--no-ui'] });
  await useKiln(kiln);
}, 60_000);
afterAll(async () => {
  await kiln?.stop();
});

/** A pod, cluster and simulator host NAME with local pool NAME-local; the pool's id. */
async function hostWithLocalPool(name: string): Promise<{ host: string; cluster: string; pool: string }> {
  const pod = idOf(await api.ok('createPod', { zoneid, name: `${name} Pod` }), 'pod');
  const cluster = idOf(await api.ok('addCluster', { zoneid, podid: pod, clustername: `${name} Cluster`, hypervisor: 'Simulator' }), 'cluster');
  const host = idOf(await api.ok('addHost', { zoneid, podid: pod, clusterid: cluster, hypervisor: 'Simulator', url: `simulator://${name}?memory=16384&localpools=${name}-local`, username: 'root', password: 'x' }), 'host');
  await api.ok('listStoragePools', { clusterid: cluster });
  const pool = idOf(await api.ok('listStoragePools', { name: `${name}-local` }), 'storagepool');
  return { host, cluster, pool };
}

async function deploy(name: string, hostid: string): Promise<string> {
  return idOf(await api.ok('deployVirtualMachine', { zoneid, templateid, serviceofferingid, name, hostid }), 'virtualmachine');
}

describe('deleteHost forcedestroylocalstorage', () => {
  it('destroys and expunges the VMs on the local storage, deletes its detached volumes, and then deletes the host; without the flag the refusal names the volumes', { timeout: 180_000 }, async () => {
    const { host, cluster, pool } = await hostWithLocalPool('doomed');
    // VM 1 runs with its root disk on the local pool.
    const running = await deploy('local-running', host);
    await api.ok('stopVirtualMachine', { id: running });
    await api.ok('migrateVolume', { volumeid: (await volumeOf(running, 'ROOT')).id, storageid: pool });
    await api.ok('startVirtualMachine', { id: running, hostid: host });
    // VM 2 is stopped, its root disk on the shared pool and a data disk on the local one, another data disk on the shared one.
    const stopped = await deploy('local-stopped', host);
    const localData = idOf(await api.ok('createVolume', { zoneid, diskofferingid, name: 'local-data' }), 'volume');
    const sharedData = idOf(await api.ok('createVolume', { zoneid, diskofferingid, name: 'shared-data' }), 'volume');
    await api.ok('attachVolume', { id: localData, virtualmachineid: stopped });
    await api.ok('attachVolume', { id: sharedData, virtualmachineid: stopped });
    const loose = idOf(await api.ok('createVolume', { zoneid, diskofferingid, name: 'loose-data' }), 'volume');
    await api.ok('attachVolume', { id: loose, virtualmachineid: stopped });
    // A start makes their disks.
    await api.ok('stopVirtualMachine', { id: stopped });
    await api.ok('startVirtualMachine', { id: stopped, hostid: host });
    await api.ok('stopVirtualMachine', { id: stopped });
    await api.ok('migrateVolume', { volumeid: localData, storageid: pool });
    // A detached volume on the local pool.
    await api.ok('migrateVolume', { volumeid: loose, storageid: pool });
    await api.ok('detachVolume', { id: loose });
    // A VM on another host's shared storage stays.
    const other = idOf(await api.ok('listHosts', { name: 'sim-host-1' }), 'host');
    const bystander = await deploy('bystander', other);

    // (listVolumes has no storageid filter in Kiln: the pool is read from each volume.)
    const onPool = async () => (await list<{ id: string; name: string; path: string; storageid?: string }>('listVolumes', 'volume', { listall: 'true' })).filter((v) => v.storageid === pool);
    const localVolumes = await onPool();
    expect(localVolumes.map((v) => v.name).sort()).toEqual([(await volumeOf(running, 'ROOT')).name, 'local-data', 'loose-data'].sort());
    const localDisks = localVolumes.map((v) => v.path);
    expect(simDisks()).toEqual(expect.arrayContaining(localDisks));
    const rootName = (await volumeOf(running, 'ROOT')).name;
    const stoppedRoot = await volumeOf(stopped, 'ROOT');
    const vmCount = async () => ({
      vmtotal: (await list<{ name: string; vmtotal: number }>('listAccounts', 'account')).find((a) => a.name === 'admin')!.vmtotal,
      volumetotal: (await list('listVolumes', 'volume', { listall: 'true' })).length,
    });
    const countsBefore = await vmCount();

    // Without the flag: 431 naming the volumes and their VMs, nothing changed.
    await api.ok('updateHost', { id: host, allocationstate: 'Disable' });
    for (const params of [{ id: host }, { id: host, forced: 'true' }, { id: host, forcedestroylocalstorage: 'false' }] as Record<string, string>[]) {
      const refused = await api.call('deleteHost', params);
      expect([refused.status, refused.body['errortext']]).toEqual([
        431,
        `id: host doomed cannot be deleted: it still has 3 volumes (${localVolumes.map((v) => v.name).join(', ')}) of VMs local-running, local-stopped on its local storage; give forcedestroylocalstorage=true to destroy and expunge those VMs with the host`,
      ]);
    }
    expect((await list<{ state: string }>('listVirtualMachines', 'virtualmachine', { id: running }))[0]!.state).toBe('Running');
    expect(await list('listHosts', 'host', { id: host })).toHaveLength(1);

    // With it: the host goes, and everything on its local storage with it.
    const deleted = await api.call('deleteHost', { id: host, forcedestroylocalstorage: 'true' });
    expect([deleted.status, deleted.body]).toEqual([200, { success: 'true' }]);
    expect(await list('listHosts', 'host', { id: host })).toEqual([]);
    expect(await list('listStoragePools', 'storagepool', { id: pool })).toEqual([]);
    for (const id of [running, stopped]) {
      expect(await list('listVirtualMachines', 'virtualmachine', { id, listall: 'true' })).toEqual([]);
    }
    expect(await onPool()).toEqual([]);
    for (const id of [localData, loose, stoppedRoot.id]) expect(await list('listVolumes', 'volume', { id })).toEqual([]);
    // The disks are gone from the host, the shared data disk stays, detached.
    expect(simDisks().filter((d) => localDisks.includes(d) || d === stoppedRoot.path)).toEqual([]);
    expect((await list<{ virtualmachineid?: string; state: string }>('listVolumes', 'volume', { id: sharedData }))[0]).toMatchObject({ state: 'Ready' });
    expect((await list<{ virtualmachineid?: string }>('listVolumes', 'volume', { id: sharedData }))[0]!.virtualmachineid).toBeUndefined();
    expect((await list<{ state: string }>('listVirtualMachines', 'virtualmachine', { id: bystander }))[0]!.state).toBe('Running');

    // One destroyVirtualMachine job per VM, succeeded; the events of a destroy and an expunge, and the host's.
    const jobs = (await list<{ cmd: string; jobinstanceid: string; jobstatus: number }>('listAsyncJobs', 'asyncjobs')).filter((j) => j.cmd === 'destroyVirtualMachine');
    expect(jobs.map((j) => [j.jobinstanceid, j.jobstatus]).sort()).toEqual([[running, 1], [stopped, 1]].sort());
    const events = await list<{ type: string; description: string; state?: string }>('listEvents', 'event', { page: '1', pagesize: '500' });
    for (const name of ['local-running', 'local-stopped']) {
      expect(events.some((e) => e.type === 'VM.EXPUNGE' && e.description.includes(name)), `VM.EXPUNGE of ${name}`).toBe(true);
      expect(events.some((e) => e.type === 'VM.DESTROY' && e.description.includes(name)), `VM.DESTROY of ${name}`).toBe(true);
    }
    expect(events.find((e) => e.type === 'HOST.DELETE')?.description).toBe('host doomed deleted; VMs local-running, local-stopped on its local storage destroyed and expunged, volume loose-data there deleted (forcedestroylocalstorage)');
    expect(events.some((e) => e.type === 'VOLUME.DELETE' && e.description.includes('loose-data'))).toBe(true);
    const countsAfter = await vmCount();
    expect(countsAfter.vmtotal).toBe(countsBefore.vmtotal - 2);
    // local-running's root, local-stopped's root and local-data, and loose-data.
    expect(countsAfter.volumetotal).toBe(countsBefore.volumetotal - 4);
    expect(rootName).toMatch(/^ROOT-/);

    // The cluster's shared pool stays: shared-data, kept, is on it.
    expect((await api.call('deleteCluster', { id: cluster })).body['errortext']).toBe('id: cluster doomed Cluster cannot be deleted: it still has 1 primary storage pool (sim-primary)');
  });

  it('still refuses, with the flag, a VM on the host whose disks are all elsewhere, and destroys nothing', { timeout: 120_000 }, async () => {
    const { host, pool } = await hostWithLocalPool('mixed');
    const shared = await deploy('shared-on-mixed', host);
    const local = await deploy('local-on-mixed', host);
    await api.ok('stopVirtualMachine', { id: local });
    await api.ok('migrateVolume', { volumeid: (await volumeOf(local, 'ROOT')).id, storageid: pool });
    const refused = await api.call('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'true' });
    expect([refused.status, refused.body['errortext']]).toEqual([431, 'id: host mixed cannot be deleted: it still has 1 VM (shared-on-mixed) with no volume on its local storage; stop or migrate it first']);
    expect((await list<{ state: string }>('listVirtualMachines', 'virtualmachine', { id: local }))[0]!.state).toBe('Stopped');
    expect((await list<{ state: string }>('listVirtualMachines', 'virtualmachine', { id: shared }))[0]!.state).toBe('Running');
    expect((await list<{ cmd: string }>('listAsyncJobs', 'asyncjobs')).filter((j) => j.cmd === 'destroyVirtualMachine' && JSON.stringify(j).includes(local))).toEqual([]);
  });

  it('a kill -9 in the middle leaves the host, the VM whose destroy was cut off settled, and a second delete finishes', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-delete-host-cut-'));
    let cut = await startKiln({ dataDir, args: ['--no-ui'] });
    try {
      await useKiln(cut);
      // Each lifecycle operation on this host takes 800 ms: the kill lands while a destroy is under way.
      const pod = idOf(await api.ok('createPod', { zoneid, name: 'cut Pod' }), 'pod');
      const cluster = idOf(await api.ok('addCluster', { zoneid, podid: pod, clustername: 'cut Cluster', hypervisor: 'Simulator' }), 'cluster');
      const host = idOf(await api.ok('addHost', { zoneid, podid: pod, clusterid: cluster, hypervisor: 'Simulator', url: 'simulator://cut?memory=16384&localpools=cut-local&latency=800', username: 'root', password: 'x' }), 'host');
      await api.ok('listStoragePools', { clusterid: cluster });
      const pool = idOf(await api.ok('listStoragePools', { name: 'cut-local' }), 'storagepool');
      const vms: string[] = [];
      for (const name of ['cut-1', 'cut-2']) {
        const vm = await deploy(name, host);
        await api.ok('stopVirtualMachine', { id: vm });
        await api.ok('migrateVolume', { volumeid: (await volumeOf(vm, 'ROOT')).id, storageid: pool });
        vms.push(vm);
      }
      const state = async (id: string) => (await list<{ state: string }>('listVirtualMachines', 'virtualmachine', { id, listall: 'true' }))[0]?.state;

      // Not awaited: the process is killed under it.
      const deleting = api.call('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'true' }).catch((error: unknown) => error);
      for (let i = 0; i < 2000 && (await state(vms[1]!)) !== 'Destroying'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await state(vms[1]!)).toBe('Destroying');
      cut.child.kill('SIGKILL');
      await new Promise((r) => cut.child.once('exit', r));
      expect(await deleting).toBeInstanceOf(Error);

      cut = await startKiln({ dataDir, args: ['--no-ui'] });
      await useKiln(cut);
      for (let i = 0; i < 2000 && (await state(vms[1]!)) === 'Destroying'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await list('listHosts', 'host', { id: host })).toHaveLength(1);
      expect(await state(vms[0]!)).toBeUndefined();
      expect(await state(vms[1]!)).toBe('Destroyed');
      const job = (await list<{ cmd: string; jobinstanceid: string; jobstatus: number; jobresult?: { errortext?: string } }>('listAsyncJobs', 'asyncjobs')).find((j) => j.cmd === 'destroyVirtualMachine' && j.jobinstanceid === vms[1]);
      expect(job).toMatchObject({ jobstatus: 2 });
      expect(job!.jobresult!.errortext).toBe(`Job interrupted: Kiln stopped while this job was in progress: destroyVirtualMachine of VM cut-2 (${vms[1]}), which it left Destroying. After the restart Kiln finished the destroy: it is Destroyed.`);

      const again = await api.call('deleteHost', { id: host, forced: 'true', forcedestroylocalstorage: 'true' });
      expect([again.status, again.body]).toEqual([200, { success: 'true' }]);
      expect(await state(vms[1]!)).toBeUndefined();
      expect(await list('listHosts', 'host', { id: host })).toEqual([]);
    } finally {
      await cut.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await useKiln(kiln);
    }
  });
});
