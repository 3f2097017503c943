/**
 * The migrateallowed vouch ends where Kiln moves the disks (issue 13). importUnmanagedInstance
 * with migrateallowed=true lets placement ignore where the imported disks are recorded (the admin
 * said they are reachable from every host). Once Kiln itself moves a disk, that disk's pool record
 * is Kiln's own, and a disk now on a host's local pool binds the VM to that host: a migration
 * elsewhere is refused naming the pool, and the VM stays where it runs. On the simulator: the
 * import's own move to a tagged local pool, a later migrateVolume onto a local pool (also of an
 * import recorded before the vouch listed its disks), and a move that failed after one disk (the
 * other disk stays vouched).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { demoIds, type TestEngine } from '../helpers/engine.js';
import { foreignVms, ssdHostEngine } from '../helpers/ssd-host.js';

let t: TestEngine;
let sim: SimulatorDriver;
let clusterid: string;
let ssdRoot: string;
let ssdData: string;
const foreignSpec = foreignVms(0xb00, '52:54:00:ce:0b');

const hostUuid = (name: string) => t.engine.db.prepare('SELECT uuid FROM hosts WHERE name=?').pluck().get(name) as string;
const vmUuid = (name: string) => t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE display_name=? AND removed IS NULL`).pluck().get(name) as string;
const poolUuid = (name: string) => t.engine.db.prepare('SELECT uuid FROM storage_pools WHERE name=? AND removed IS NULL').pluck().get(name) as string;
/** The volume types the VM's migrateallowed vouch still covers. */
const vouched = (name: string) => {
  const value = t.engine.db.prepare(`SELECT d.value FROM vm_details d JOIN vm_instances v ON v.id=d.vm_id WHERE v.display_name=? AND v.removed IS NULL AND d.name='kiln.import.migrateAllowed'`).pluck().get(name) as string;
  return (JSON.parse(value) as number[]).map((id) => t.engine.db.prepare('SELECT volume_type FROM volumes WHERE id=?').pluck().get(id)).sort();
};
const where = (name: string) => t.engine.db.prepare(`SELECT v.state, h.name AS host FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.display_name=? AND v.removed IS NULL`).get(name);

/** migrateVirtualMachine of NAME to HOST: the refusal (code and text, of the call or of its job), or '' when it moved. */
async function migrateTo(name: string, host: string): Promise<string> {
  const res = await t.call('migrateVirtualMachine', { virtualmachineid: vmUuid(name), hostid: hostUuid(host) });
  if (res.status !== 200) return `${res.status} ${String(res.body['errortext'])}`;
  const done = await t.engine.jobs.wait(String(res.body['jobid']));
  const result = done['jobresult'] as { errorcode?: number; errortext?: string };
  return done['jobstatus'] === 1 ? '' : `${result.errorcode} ${result.errortext}`;
}

async function importVouched(name: string, host: string, offering: string, dataOffering: string): Promise<void> {
  sim.addUnmanagedVm(host, foreignSpec(name), { power: 'Running' });
  await t.job('importUnmanagedInstance', {
    clusterid, name, serviceofferingid: offering, migrateallowed: 'true',
    'datadiskofferinglist[0].disk': `${name}-data.qcow2`, 'datadiskofferinglist[0].diskOffering': dataOffering,
  });
}

beforeAll(async () => {
  ({ t, sim, clusterid, ssdRoot, ssdData } = await ssdHostEngine('vouch-host'));
  await t.ok('listStoragePools');
});
afterAll(() => t.close());

describe('the migrateallowed vouch once Kiln moved the disks', () => {
  it("a disk the import moved onto a host's local pool binds the VM there, even once a shared pool has the tag too", async () => {
    // ssd-root: the root disk must be on an ssd pool; only vouch-host's local sim-ssd has the tag.
    await importVouched('vouch-a', 'sim-host-1', ssdRoot, demoIds(t.engine).diskSmall);
    expect(where('vouch-a')).toEqual({ state: 'Running', host: 'vouch-host' });
    // The cluster's shared pool gets the tag too: the tag no longer keeps the VM on vouch-host, only where its disk is.
    await t.ok('updateStoragePool', { id: poolUuid('sim-primary'), tags: 'ssd' });
    try {
      expect(vouched('vouch-a')).toEqual(['DATADISK']);
      const refusal = await migrateTo('vouch-a', 'sim-host-1');
      expect(refusal).toMatch(/^533 Cannot migrate VM vouch-[ab]: sim-host-[12]: /);
      expect(refusal).toMatch(/volume ROOT-\d+ is on local storage pool sim-ssd of host vouch-host/);
      expect(where('vouch-a')).toEqual({ state: 'Running', host: 'vouch-host' });
      expect(sim.world.find('sim-host-1')!.domains['vouch-a']).toBeUndefined();
    } finally {
      await t.ok('updateStoragePool', { id: poolUuid('sim-primary'), tags: '' });
    }
  });

  it('a disk migrateVolume moved onto a local pool binds the VM there; the disk it did not move stays vouched', async () => {
    // No tags: the import moves nothing; the VM may go anywhere (the vouch).
    await importVouched('vouch-b', 'vouch-host', await fixedOffering(), demoIds(t.engine).diskSmall);
    expect(where('vouch-b')).toEqual({ state: 'Running', host: 'vouch-host' });
    const root = t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).pluck().get(vmUuid('vouch-b')) as string;
    await t.job('migrateVolume', { volumeid: root, storageid: poolUuid('sim-ssd'), livemigrate: 'true' });
    expect(sim.world.find('vouch-host')!.domains['vouch-b']!.spec.disks.map((d) => d.pool)).toEqual(['sim-ssd', undefined]);
    expect(vouched('vouch-b')).toEqual(['DATADISK']);
    const refusal = await migrateTo('vouch-b', 'sim-host-2');
    expect(refusal).toMatch(/^533 Cannot migrate VM vouch-[ab]: sim-host-[12]: /);
    expect(refusal).toMatch(/volume ROOT-\d+ is on local storage pool sim-ssd of host vouch-host/);
    expect(refusal).not.toMatch(/DATADISK/);
    expect(where('vouch-b')).toEqual({ state: 'Running', host: 'vouch-host' });
    expect(sim.world.find('sim-host-2')!.domains['vouch-b']).toBeUndefined();
    // Back on the shared pool (Kiln's move again), the VM is free to go.
    await t.job('migrateVolume', { volumeid: root, storageid: poolUuid('sim-primary'), livemigrate: 'true' });
    expect(await migrateTo('vouch-b', 'sim-host-2')).toBe('');
    expect(where('vouch-b')).toEqual({ state: 'Running', host: 'sim-host-2' });
  });

  it("an import recorded before the vouch listed its disks ('true': all of them) ends it the same way", async () => {
    await importVouched('vouch-d', 'vouch-host', await fixedOffering(), demoIds(t.engine).diskSmall);
    t.engine.db.prepare(`UPDATE vm_details SET value='true' WHERE name='kiln.import.migrateAllowed' AND vm_id=(SELECT id FROM vm_instances WHERE uuid=?)`).run(vmUuid('vouch-d'));
    const root = t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).pluck().get(vmUuid('vouch-d')) as string;
    await t.job('migrateVolume', { volumeid: root, storageid: poolUuid('sim-ssd'), livemigrate: 'true' });
    expect(vouched('vouch-d')).toEqual(['DATADISK']);
    expect(await migrateTo('vouch-d', 'sim-host-1')).toMatch(/^533 Cannot migrate VM vouch-d: sim-host-1: volume ROOT-\d+ is on local storage pool sim-ssd of host vouch-host/);
    expect(where('vouch-d')).toEqual({ state: 'Running', host: 'vouch-host' });
  });

  it('a move that failed after the first disk ends the vouch for that disk only', async () => {
    sim.addUnmanagedVm('vouch-host', foreignSpec('vouch-c'), { power: 'Running' });
    sim.failNext('migrate', { host: 'vouch-host', afterDisks: 1, message: 'block job pivot of vdb failed' });
    const res = await t.run('importUnmanagedInstance', {
      clusterid, name: 'vouch-c', serviceofferingid: ssdRoot, migrateallowed: 'true',
      'datadiskofferinglist[0].disk': 'vouch-c-data.qcow2', 'datadiskofferinglist[0].diskOffering': ssdData,
    });
    expect(res['jobstatus']).toBe(2);
    expect(sim.world.find('vouch-host')!.domains['vouch-c']!.spec.disks.map((d) => d.pool)).toEqual(['sim-ssd', undefined]);
    expect(vouched('vouch-c')).toEqual(['DATADISK']);
    await t.ok('updateStoragePool', { id: poolUuid('sim-primary'), tags: 'ssd' });
    try {
      const refusal = await migrateTo('vouch-c', 'sim-host-1');
      expect(refusal).toMatch(/volume ROOT-\d+ is on local storage pool sim-ssd of host vouch-host/);
      expect(refusal).not.toMatch(/DATADISK/);
      expect(where('vouch-c')).toEqual({ state: 'Running', host: 'vouch-host' });
    } finally {
      await t.ok('updateStoragePool', { id: poolUuid('sim-primary'), tags: '' });
    }
  });
});

let fixed: string | undefined;

/** A fixed offering that matches the foreign VMs (2 vCPU at 2000 MHz, 2048 MB), no tags. */
async function fixedOffering(): Promise<string> {
  fixed ??= ((await t.ok('createServiceOffering', { name: 'vouch-fixed', cpunumber: '2', cpuspeed: '2000', memory: '2048' }))['serviceoffering'] as { id: string }).id;
  return fixed;
}
