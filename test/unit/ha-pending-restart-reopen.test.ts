/**
 * An HA restart Kiln still owes survives a Kiln restart (issue 13): the engine is closed while the
 * restart is pending and opened again on the same data directory, as after a kill or a quit.
 *
 * - An HA VM bound to its Down host by a disk on that host's local pool waits for the host (HA
 *   said so in its events); after the reopen it still does, and it runs again on that host once the
 *   host is back. Before, the wait was in the monitor's memory only: the reopened Kiln left it
 *   Stopped for good.
 * - A failed HA restart (the start refused, as on a disk still locked by a cut-off host) is still
 *   tried again after the reopen, within its retry window; so is one whose start the closing Kiln
 *   cut short (the VM settled Stopped at the next start).
 * - What the user did meanwhile wins: a VM they destroyed and recovered, or whose HA they turned
 *   off, is not started behind their back when its host returns.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { deployDemo, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import { haVmOnLocalDisk } from '../helpers/local-disk-vm.js';

let t: TestEngine;
afterEach(async () => {
  await t.close();
  rmSync(t.dataDir, { recursive: true, force: true });
});

const row = (id: string) => t.engine.db.prepare('SELECT v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { state: string; host: string | null };
const haPasses = async (n: number) => {
  for (let i = 0; i < n; i++) {
    await t.engine.background.ha.pass();
    await t.engine.jobs.drain();
  }
};
const restarts = (id: string) => t.engine.db.prepare(`SELECT status FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id`).pluck().all(id) as number[];

/** Closes the engine and opens a new one on the same data directory (the simulated hosts are kept there too). */
async function reopen(): Promise<void> {
  const dataDir = t.dataDir;
  await t.engine.close();
  t = await testEngine({ dataDir });
}

/** A fresh engine with local-host (Demo Cluster, local pool loc-disk), and an HA VM on it whose root disk is on loc-disk. */
async function vmBoundToLocalHost(): Promise<{ id: string; root: string }> {
  t = await testEngine({ keep: true });
  const ids = demoIds(t.engine);
  for (const vm of t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE state='Running'`).all() as { uuid: string }[]) await t.run('stopVirtualMachine', { id: vm.uuid });
  const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.name='Demo Cluster'`).get() as { uuid: string; pod: string };
  await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url: 'simulator://local-host?localpools=loc-disk&memory=65536', username: 'root', password: 'x' });
  await t.ok('listStoragePools', {});
  const offering = ((await t.ok('createServiceOffering', { name: 'ha-local', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
  const vm = await haVmOnLocalDisk(t, 'ha-bound', offering);
  expect(row(vm.id)).toEqual({ state: 'Running', host: 'local-host' });
  return { id: vm.id, root: vm.root };
}

/** local-host goes down; HA says the VM waits for it and starts it nowhere else. */
async function hostDownVmWaits(vm: { id: string; root: string }): Promise<void> {
  t.engine.simulator.setHostUp('local-host', false);
  await haPasses(4);
  expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
  const said = t.engine.db.prepare(`SELECT description FROM events WHERE resource_uuid=? AND type='HA.RESTART'`).pluck().all(vm.id) as string[];
  expect(said.some((d) => d.includes(`volume ${vm.root} is on local storage pool loc-disk of host local-host`) && d.includes('It restarts when its host is back'))).toBe(true);
  expect(restarts(vm.id)).toEqual([]);
}

describe('a pending HA restart after Kiln is closed and opened again', () => {
  it('a VM waiting for its Down host (local disk) still waits after the reopen, and runs there once the host is back', async () => {
    const vm = await vmBoundToLocalHost();
    await hostDownVmWaits(vm);
    await reopen();
    // Still down: it waits, on no other host.
    await haPasses(2);
    expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
    expect(restarts(vm.id)).toEqual([]);
    t.engine.simulator.setHostUp('local-host', true);
    await haPasses(1);
    expect(row(vm.id)).toEqual({ state: 'Running', host: 'local-host' });
    expect(restarts(vm.id)).toEqual([1]);
    // Done with: a later stop by its owner is not undone.
    await t.job('stopVirtualMachine', { id: vm.id });
    await reopen();
    await haPasses(2);
    expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
  });

  it('a VM its owner destroyed and recovered, or whose HA they turned off, after the reopen is not started when its host is back', async () => {
    const vm = await vmBoundToLocalHost();
    await hostDownVmWaits(vm);
    await reopen();
    expect((await t.run('destroyVirtualMachine', { id: vm.id }))['jobstatus']).toBe(1);
    await t.ok('recoverVirtualMachine', { id: vm.id });
    expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
    t.engine.simulator.setHostUp('local-host', true);
    await haPasses(2);
    expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
    expect(restarts(vm.id)).toEqual([]);

    // Waiting again (the owner started it; its host went down), then HA turned off across a reopen.
    await t.job('startVirtualMachine', { id: vm.id });
    await hostDownVmWaits(vm);
    await reopen();
    await t.ok('updateVirtualMachine', { id: vm.id, haenable: 'false' });
    t.engine.simulator.setHostUp('local-host', true);
    await haPasses(2);
    expect(row(vm.id)).toEqual({ state: 'Stopped', host: null });
    expect(restarts(vm.id)).toEqual([]);
  });

  it('a failed HA restart is still tried again after the reopen and the VM runs', async () => {
    t = await testEngine({ keep: true });
    const offering = ((await t.ok('createServiceOffering', { name: 'ha-retry-reopen', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
    const vm = await deployDemo(t, { name: 'ha-retry-reopen', serviceofferingid: offering, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    t.engine.simulator.failNext('start', { message: 'Failed to get "write" lock: is another process using the image?', times: 1 });
    t.engine.simulator.setHostUp(lost, false);
    await haPasses(3);
    expect(row(vm['id']!).state).toBe('Stopped');
    expect(restarts(vm['id']!)).toEqual([2]);
    await reopen();
    await haPasses(1);
    expect(row(vm['id']!).state).toBe('Running');
    expect(row(vm['id']!).host).not.toBe(lost);
    expect(restarts(vm['id']!)).toEqual([2, 1]);
  });

  it('an HA restart cut short by Kiln stopping is settled at the next start and tried again', async () => {
    t = await testEngine({ keep: true });
    const offering = ((await t.ok('createServiceOffering', { name: 'ha-cut-short', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
    const vm = await deployDemo(t, { name: 'ha-cut-short', serviceofferingid: offering, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    t.engine.simulator.failNext('start', { times: 1 });
    t.engine.simulator.setHostUp(lost, false);
    await haPasses(3);
    expect(restarts(vm['id']!)).toEqual([2]);
    // The retry had begun its start on another host (Starting there, job in progress) when the process died.
    const target = t.engine.db.prepare(`SELECT id FROM hosts WHERE name LIKE 'sim-host-%' AND name<>? AND state='Up' ORDER BY name LIMIT 1`).pluck().get(lost) as number;
    t.engine.db.prepare(`UPDATE vm_instances SET state='Starting', host_id=?, update_count=update_count+1 WHERE uuid=?`).run(target, vm['id']);
    t.engine.db
      .prepare(`INSERT INTO async_jobs (uuid, user_id, account_id, cmd, params, status, instance_type, instance_uuid, owner, created) VALUES (?,?,?,'HA.restart','{}',0,'VirtualMachine',?,'dead-process',?)`)
      .run('00000000-2222-4333-8444-555555555555', t.admin.userId, t.admin.accountId, vm['id'], new Date().toISOString());
    await reopen();
    await t.engine.background.reconcileInterrupted();
    expect(row(vm['id']!)).toEqual({ state: 'Stopped', host: null });
    await haPasses(1);
    expect(row(vm['id']!).state).toBe('Running');
    expect(row(vm['id']!).host).not.toBe(lost);
    expect(restarts(vm['id']!)).toEqual([2, 2, 1]);
  });
});
