/**
 * The reconcile pass reads each host's VM list, which may lag behind the host: vSphere's and
 * XenServer's lists come from an event-fed cache, and a VM Kiln has just started may still be
 * listed powered off there for a moment on a loaded machine. A Running VM the list shows stopped
 * (or does not show) is asked for itself (HostSession.powerState) before Kiln takes it for down:
 * before, Kiln marked it Stopped "outside Kiln" (and an HA VM was restarted), while it ran on.
 * A VM the host itself says is stopped is still found stopped at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostSession, InstanceInfo } from '../../drivers/types.js';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

const row = (id: string) => t.engine.db.prepare('SELECT v.state, v.host_id AS hostId FROM vm_instances v WHERE v.uuid=?').get(id) as { state: string; hostId: number };
const internalName = (id: string) => t.engine.db.prepare('SELECT COALESCE(ref, internal_name) FROM vm_instances WHERE uuid=?').pluck().get(id) as string;

/** Makes HOSTID's session list VM (by ref) as STALE says, whatever the host holds; the undo is returned. */
async function staleList(hostId: number, ref: string, stale: 'Stopped' | 'absent'): Promise<() => void> {
  const session = (await t.engine.hosts.session(hostId)) as HostSession & { listPowerStates?: HostSession['listPowerStates'] };
  const own = session.listInstances.bind(session);
  const ownPower = session.listPowerStates?.bind(session);
  const lag = (list: InstanceInfo[]) => (stale === 'absent' ? list.filter((i) => i.ref !== ref) : list.map((i) => (i.ref === ref ? { ...i, powerState: 'Stopped' as const } : i)));
  session.listInstances = async () => lag(await own());
  if (ownPower) session.listPowerStates = async () => lag((await ownPower()) as InstanceInfo[]);
  return () => {
    session.listInstances = own;
    if (ownPower) session.listPowerStates = ownPower;
  };
}

describe('reconcile against a list that lags behind its host', () => {
  for (const stale of ['Stopped', 'absent'] as const) {
    it(`leaves a Running VM the list shows ${stale === 'Stopped' ? 'stopped' : 'without it'} Running when the host says it runs`, async () => {
      const offering = (await t.ok('createServiceOffering', { name: `stale-${stale}`, cpunumber: '1', cpuspeed: '500', memory: '256', offerha: 'true' }))['serviceoffering'] as { id: string };
      const vm = await deployDemo(t, { name: `stale-${stale.toLowerCase()}`, serviceofferingid: offering.id, haenable: 'true' });
      const { hostId } = row(vm['id']!);
      const undo = await staleList(hostId, internalName(vm['id']!), stale);
      try {
        await t.engine.background.ha.pass();
        await t.engine.jobs.drain();
      } finally {
        undo();
      }
      expect(row(vm['id']!)).toEqual({ state: 'Running', hostId });
      const events = t.engine.db.prepare(`SELECT description FROM events WHERE resource_uuid=? AND (description LIKE '%outside Kiln%' OR type='HA.RESTART')`).pluck().all(vm['id']);
      expect(events).toEqual([]);
      expect(t.engine.db.prepare(`SELECT COUNT(*) FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=?`).pluck().get(vm['id'])).toBe(0);
      await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    });
  }

  it('still finds a VM stopped at once when the host itself says so', async () => {
    const vm = await deployDemo(t, { name: 'really-stopped' });
    const { hostId } = row(vm['id']!);
    const session = await t.engine.hosts.session(hostId);
    await session.stop(internalName(vm['id']!), { forced: true });
    await t.engine.background.ha.pass();
    expect(row(vm['id']!).state).toBe('Stopped');
    await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
  });
});
