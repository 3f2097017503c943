/**
 * R48's storage half on the simulator: importUnmanagedInstance checks every disk's pool against its
 * offering's storage tags (the root disk: the service offering's, a data disk: its disk offering's).
 * Without migrateallowed a conflict is a 431 naming the offering, the tag and the pool, and nothing
 * is written; with it the job moves the disks to pools with the tags, live when the VM runs (to
 * another host when only that host reaches such a pool), cold when it is stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { dbFingerprint, demoIds, type TestEngine } from '../helpers/engine.js';
import { foreignVms, ssdHostEngine } from '../helpers/ssd-host.js';

let t: TestEngine;
let sim: SimulatorDriver;
let clusterid: string;
let ssdRoot: string;
let ssdData: string;
const foreignSpec = foreignVms(0, '52:54:00:cc:00');

/** The simulated domain NAME: its host and its disks' pools. */
function domainOf(name: string): { host: string; pools: (string | undefined)[] } {
  for (const host of ['sim-host-1', 'sim-host-2', 'ssd-host']) {
    const d = sim.world.find(host)?.domains[name];
    if (d) return { host, pools: d.spec.disks.map((x) => x.pool) };
  }
  throw new Error(`no domain ${name}`);
}

beforeAll(async () => {
  ({ t, sim, clusterid, ssdRoot, ssdData } = await ssdHostEngine('ssd-host'));
});
afterAll(() => t.close());

describe('importUnmanagedInstance and storage tags (R48)', () => {
  it("refuses a root disk on a pool without the service offering's storage tag (431 naming offering, tag and pool), writing nothing", async () => {
    sim.addUnmanagedVm('sim-host-1', foreignSpec('tagged-web'), { power: 'Running' });
    await t.ok('listStoragePools');
    const before = dbFingerprint(t.engine);
    const res = await t.call('importUnmanagedInstance', { clusterid, name: 'tagged-web', serviceofferingid: ssdRoot, 'datadiskofferinglist[0].disk': 'tagged-web-data.qcow2', 'datadiskofferinglist[0].diskOffering': demoIds(t.engine).diskSmall });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toBe('serviceofferingid: service offering ssd-root needs storage tag ssd, which pool sim-primary holding disk tagged-web-root.qcow2 of VM tagged-web lacks; pass migrateallowed=true to move the disk to a pool that has it');
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('with migrateallowed=true moves a running VM live to the host whose pool has the tag, its root disk onto that pool', async () => {
    const job = await t.job('importUnmanagedInstance', { clusterid, name: 'tagged-web', serviceofferingid: ssdRoot, migrateallowed: 'true', 'datadiskofferinglist[0].disk': 'tagged-web-data.qcow2', 'datadiskofferinglist[0].diskOffering': demoIds(t.engine).diskSmall });
    const vm = job['virtualmachine'] as { id: string; state: string; hostname: string };
    expect(vm).toMatchObject({ state: 'Running', hostname: 'ssd-host' });
    expect(domainOf('tagged-web')).toEqual({ host: 'ssd-host', pools: ['sim-ssd', undefined] });
    // The data disk stays where it was, with no pool text: the next read of the pools maps it onto the host's default pool.
    await t.ok('listStoragePools');
    const volumes = t.engine.db.prepare(`SELECT v.volume_type, v.pool, p.name AS record FROM volumes v LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE v.vm_id=(SELECT id FROM vm_instances WHERE uuid=?) ORDER BY v.device_id`).all(vm.id);
    expect(volumes).toEqual([{ volume_type: 'ROOT', pool: 'sim-ssd', record: 'sim-ssd' }, { volume_type: 'DATADISK', pool: null, record: 'sim-primary' }]);
    const events = ((await t.ok('listEvents', { type: 'VOLUME.MIGRATE' }))['event'] as { description: string }[]).map((e) => e.description);
    expect(events.some((d) => d.includes('disk tagged-web-root.qcow2 to pool sim-ssd') && d.includes('VM to host ssd-host'))).toBe(true);
  });

  it("moves a stopped VM's data disk cold onto the tagged pool of its own host (disk offering tags)", async () => {
    sim.addUnmanagedVm('ssd-host', foreignSpec('cold-db'), { power: 'Stopped' });
    const refused = await t.call('importUnmanagedInstance', { clusterid, name: 'cold-db', serviceofferingid: demoIds(t.engine).custom, 'details[0].cpuSpeed': '1000', 'datadiskofferinglist[0].disk': 'cold-db-data.qcow2', 'datadiskofferinglist[0].diskOffering': ssdData });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/^datadiskofferinglist: disk offering ssd-data needs storage tag ssd, which pool sim-primary holding disk cold-db-data\.qcow2 of VM cold-db lacks/);
    const job = await t.job('importUnmanagedInstance', { clusterid, name: 'cold-db', serviceofferingid: demoIds(t.engine).custom, 'details[0].cpuSpeed': '1000', migrateallowed: 'true', 'datadiskofferinglist[0].disk': 'cold-db-data.qcow2', 'datadiskofferinglist[0].diskOffering': ssdData });
    expect((job['virtualmachine'] as { state: string }).state).toBe('Stopped');
    expect(domainOf('cold-db')).toEqual({ host: 'ssd-host', pools: [undefined, 'sim-ssd'] });
  });

  it('with migrateallowed refuses (431) a tag no pool of the cluster has', async () => {
    const nvme = ((await t.ok('createServiceOffering', { name: 'nvme-root', cpunumber: '2', cpuspeed: '2000', memory: '2048', tags: 'nvme' }))['serviceoffering'] as { id: string }).id;
    sim.addUnmanagedVm('sim-host-2', foreignSpec('nvme-web'), { power: 'Running' });
    const res = await t.call('importUnmanagedInstance', { clusterid, name: 'nvme-web', serviceofferingid: nvme, migrateallowed: 'true', 'datadiskofferinglist[0].disk': 'nvme-web-data.qcow2', 'datadiskofferinglist[0].diskOffering': demoIds(t.engine).diskSmall });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toContain('service offering nvme-root needs storage tag nvme for disk nvme-web-root.qcow2 of VM nvme-web, and no enabled storage pool of cluster');
    expect(String(res.body['errortext'])).toContain('sim-ssd (tags ssd)');
  });
});
