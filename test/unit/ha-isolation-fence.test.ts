/**
 * HA with a host that fences itself when isolated (issue 10, host cut off by its network; the
 * isolationFencing facet). Kiln may restart the HA VM of an out-of-contact host elsewhere only once
 * the host's own watchdog has powered it off: not before the first failed contact + the facet's
 * timeout + FENCE_MARGIN_MS. Until then the VM shows Running (CloudStack shows a VM on a host it
 * cannot reach as Running, the host Disconnected/Down), since it may still run there.
 * Time is Date's only (vi.setSystemTime): the passes are called by the test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FENCE_MARGIN_MS } from '../../main/engine/ha/ha-monitor.js';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
const FENCE_MS = 300;

beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());
afterEach(() => {
  vi.useRealTimers();
  t.engine.simulator.isolationFenceMs = undefined;
});

function row(id: string) {
  return t.engine.db.prepare('SELECT v.state, h.name AS host, h.state AS hoststate FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { state: string; host: string | null; hoststate: string | null };
}

async function passes(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await t.engine.background.ha.pass();
  await t.engine.jobs.drain();
}

describe('HA restart of a self-fencing host', () => {
  it('keeps the HA VM Running on the cut-off host until contact lost + timeout + margin, then runs it on another host, once', async () => {
    t.engine.simulator.isolationFenceMs = FENCE_MS;
    const offering = (await t.call('createServiceOffering', { name: 'ha-fence', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-fence', serviceofferingid: offering.id, haenable: 'true' });
    const plain = await deployDemo(t, { name: 'ha-fence-plain', hostid: t.engine.db.prepare('SELECT h.uuid FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').pluck().get(vm['id']) as string });
    const cutOff = row(vm['id']!).host!;
    await passes(1); // contact: the watchdog is armed
    expect(t.engine.simulator.isolationArmed.has(cutOff)).toBe(true);

    const lostAt = Date.now();
    vi.setSystemTime(lostAt);
    t.engine.simulator.setHostIsolated(cutOff, true);
    try {
      await passes(3);
      // Down after three misses, but the VM may still run there: not Stopped, not restarted.
      expect(row(vm['id']!)).toEqual({ state: 'Running', host: cutOff, hoststate: 'Down' });
      expect(row(plain['id']!).state).toBe('Running');
      const restarts = () => t.engine.db.prepare(`SELECT COUNT(*) FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=?`).pluck().get(vm['id']) as number;
      expect(restarts()).toBe(0);

      // The host's watchdog has powered the VM off by now (real time), but Kiln cannot know it yet.
      await new Promise((r) => setTimeout(r, FENCE_MS + 50));
      vi.setSystemTime(lostAt + FENCE_MS + FENCE_MARGIN_MS - 1);
      await passes(1);
      expect(row(vm['id']!).state).toBe('Running');
      expect(row(vm['id']!).host).toBe(cutOff);
      expect(restarts()).toBe(0);

      vi.setSystemTime(lostAt + FENCE_MS + FENCE_MARGIN_MS);
      await passes(1);
      const moved = row(vm['id']!);
      expect(moved.state).toBe('Running');
      expect(moved.host).not.toBe(cutOff);
      expect(restarts()).toBe(1);
      // The simulated watchdog fenced only the HA domain; the other VM still runs on the cut-off host.
      const world = t.engine.simulator.world.find(cutOff)!.domains;
      const names = t.engine.db.prepare('SELECT uuid, internal_name FROM vm_instances WHERE uuid IN (?,?)').all(vm['id'], plain['id']) as { uuid: string; internal_name: string }[];
      const nameOf = (id: string) => names.find((n) => n.uuid === id)!.internal_name;
      expect(world[nameOf(vm['id']!)]?.power).toBe('Stopped');
      expect(world[nameOf(plain['id']!)]?.power).toBe('Running');
      expect(row(plain['id']!).state).toBe('Running');
    } finally {
      vi.useRealTimers();
      t.engine.simulator.setHostIsolated(cutOff, false);
      await passes(1);
    }
    // Back: the fenced copy's definition goes, the VM keeps running where HA put it.
    expect(row(vm['id']!).host).not.toBe(cutOff);
    expect(Object.keys(t.engine.simulator.world.find(cutOff)!.domains)).not.toContain(t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm['id']));
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    await t.run('destroyVirtualMachine', { id: plain['id']!, expunge: 'true' });
  });

  it('without the facet, a Down host\'s HA VM is restarted at once, as before', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-nofence', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-nofence', serviceofferingid: offering.id, haenable: 'true' });
    const lost = row(vm['id']!).host!;
    await passes(1);
    t.engine.simulator.setHostIsolated(lost, true);
    try {
      await passes(3);
      expect(row(vm['id']!).state).toBe('Running');
      expect(row(vm['id']!).host).not.toBe(lost);
    } finally {
      t.engine.simulator.setHostIsolated(lost, false);
      await passes(1);
    }
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });
});

describe('expunge removes every definition of the VM', () => {
  it('a stale copy an HA restart left on the old host (its removal there failed) goes with the expunge', async () => {
    const offering = (await t.call('createServiceOffering', { name: 'ha-stale', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-stale', serviceofferingid: offering.id, haenable: 'true' });
    const name = t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm['id']) as string;
    const old = row(vm['id']!).host!;
    t.engine.simulator.setHostUp(old, false);
    await passes(3);
    expect(row(vm['id']!).state).toBe('Running');
    expect(row(vm['id']!).host).not.toBe(old);
    // The old host is back, but removing the shut-off copy there fails once: it stays defined.
    t.engine.simulator.failNext('destroy', { host: old });
    t.engine.simulator.setHostUp(old, true);
    await passes(1);
    expect(Object.keys(t.engine.simulator.world.find(old)!.domains)).toContain(name);
    expect(t.engine.db.prepare('SELECT state FROM hosts WHERE name=?').pluck().get(old)).toBe('Up');

    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    expect(row(vm['id']!).state).toBe('Expunged');
    const hostNames = t.engine.db.prepare(`SELECT name FROM hosts WHERE hypervisor='Simulator'`).pluck().all() as string[];
    for (const host of hostNames) expect(Object.keys(t.engine.simulator.world.find(host)?.domains ?? {}), host).not.toContain(name);
    const events = t.engine.db.prepare(`SELECT description FROM events WHERE resource_uuid=? AND type='VM.EXPUNGE'`).pluck().all(vm['id']) as string[];
    expect(events.join('\n')).toContain(`a stale definition on host ${old} removed with the expunge`);
  });
});
