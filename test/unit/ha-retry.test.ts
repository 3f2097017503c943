/**
 * A failed HA restart is tried again (issue 10, host cut off by its network): when a host is cut
 * off but not dead, its qemu still holds the VM's disk and the first restart elsewhere fails on the
 * image lock. HA must keep trying on later passes instead of leaving the HA VM Stopped for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

function row(id: string) {
  return t.engine.db.prepare('SELECT v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { state: string; host: string | null };
}

describe('HA restart retries', () => {
  it('a restart that fails (disk still locked by the lost host) is retried on the next pass and the VM runs again', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-retry', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-retry', serviceofferingid: offering.id, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    t.engine.simulator.failNext('start', { message: 'Failed to get "write" lock: is another process using the image?', times: 1 });
    t.engine.simulator.setHostUp(lost, false);
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      // The first restart failed, as on a real host whose cut-off twin still holds the disk.
      expect(row(vm['id']!).state).toBe('Stopped');
      await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(row(vm['id']!).state).toBe('Running');
      expect(row(vm['id']!).host).not.toBe(lost);
      const jobs = t.engine.db.prepare(`SELECT status FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id`).pluck().all(vm['id']) as number[];
      expect(jobs).toEqual([2, 1]);
    } finally {
      t.engine.simulator.setHostUp(lost, true);
      await t.engine.background.ha.pass();
      // Out of the way: the next test takes a host down and must not restart this VM instead.
      await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    }
  });

  it('backs off after the second failure, and tries at once when a host comes back', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-retry-4', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-retry-4', serviceofferingid: offering.id, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    const restarts = () => t.engine.db.prepare(`SELECT status FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id`).pluck().all(vm['id']) as number[];
    t.engine.simulator.failNext('start', { times: 2 });
    t.engine.simulator.setHostUp(lost, false);
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(restarts()).toEqual([2, 2]);
      // The third try waits (5 s) rather than coming on every pass.
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(restarts()).toEqual([2, 2]);
    } finally {
      t.engine.simulator.setHostUp(lost, true);
    }
    await t.engine.background.ha.pass();
    await t.engine.jobs.drain();
    expect(restarts()).toEqual([2, 2, 1]);
    expect(row(vm['id']!).state).toBe('Running');
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });

  it('a VM someone acts on after the failed restart is left to them', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-retry-2', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-retry-2', serviceofferingid: offering.id, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    t.engine.simulator.failNext('start', { times: 1 });
    t.engine.simulator.setHostUp(lost, false);
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(row(vm['id']!).state).toBe('Stopped');
      // The owner destroys it meanwhile: no retry may bring it back.
      await t.run('destroyVirtualMachine', { id: vm['id']! });
      await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(row(vm['id']!).state).toBe('Destroyed');
    } finally {
      t.engine.simulator.setHostUp(lost, true);
      await t.engine.background.ha.pass();
    }
  });

  it('a copy left running on a cut-off host by a VM expunged meanwhile is powered off and undefined when the host returns', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-retry-3', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-retry-3', serviceofferingid: offering.id, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    const name = t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm['id']) as string;
    t.engine.simulator.failNext('start', { times: 1 });
    t.engine.simulator.setHostUp(lost, false);
    // Cut off rather than dead: its qemu keeps running the VM.
    t.engine.simulator.world.find(lost)!.domains[name]!.power = 'Running';
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(row(vm['id']!).state).toBe('Stopped');
      expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
      expect(row(vm['id']!).state).toBe('Expunged');
    } finally {
      t.engine.simulator.setHostUp(lost, true);
    }
    t.engine.simulator.world.find(lost)!.domains[name]!.power = 'Running';
    await t.engine.background.ha.pass();
    await t.engine.jobs.drain();
    expect(t.engine.simulator.world.find(lost)!.domains[name]).toBeUndefined();
  });
});

describe('a host that stays down', () => {
  it('is reported down once (HOST.DOWN), not again on every failed reconnect', async () => {
    const host = (t.engine.db.prepare(`SELECT name FROM hosts WHERE name LIKE 'sim-host-%' ORDER BY name LIMIT 1`).pluck().get()) as string;
    const downs = () => t.engine.db.prepare(`SELECT COUNT(*) FROM events WHERE type='HOST.DOWN' AND description LIKE ?`).pluck().get(`host ${host} %`) as number;
    const before = downs();
    t.engine.simulator.setHostUp(host, false);
    try {
      for (let i = 0; i < 8; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(downs() - before).toBe(1);
    } finally {
      t.engine.simulator.setHostUp(host, true);
      await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
    }
  });
});
