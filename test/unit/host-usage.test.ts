/** The trigger-kept host_usage table always equals the sum over the VMs that hold capacity. */
import { describe, expect, it } from 'vitest';
import { testEngine, demoIds } from '../helpers/engine.js';
import { DbPlacementState } from '../../main/engine/placement/db-state.js';

describe('host usage ledger', () => {
  it('matches a fresh aggregate after deploys, stops, scaling, migration and expunge', async () => {
    const t = await testEngine();
    try {
      const ids = demoIds(t.engine);
      const truth = () => t.engine.db.prepare(`SELECT host_id, SUM(cpu_number*cpu_speed) AS cpu_mhz, SUM(memory) AS memory, COUNT(*) AS vms FROM vm_instances WHERE host_id IS NOT NULL AND state IN ('Starting','Running','Stopping','Migrating','Unknown') GROUP BY host_id ORDER BY host_id`).all();
      const ledger = () => t.engine.db.prepare('SELECT host_id, cpu_mhz, memory, vms FROM host_usage WHERE vms > 0 ORDER BY host_id').all();
      const hosts = t.engine.db.prepare('SELECT uuid FROM hosts ORDER BY id').all() as { uuid: string }[];
      const vms: string[] = [];
      for (let i = 0; i < 4; i++) {
        const job = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: `u${i}`, hostid: hosts[i % 3]!.uuid });
        vms.push((job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id);
      }
      expect(ledger()).toEqual(truth());
      await t.run('stopVirtualMachine', { id: vms[0]! });
      await t.call('changeServiceForVirtualMachine', { id: vms[0]!, serviceofferingid: ids.large });
      await t.run('startVirtualMachine', { id: vms[0]! });
      await t.run('migrateVirtualMachine', { virtualmachineid: vms[1]!, hostid: hosts[2]!.uuid });
      await t.run('destroyVirtualMachine', { id: vms[2]!, expunge: 'true' });
      expect(ledger()).toEqual(truth());
    } finally {
      await t.close();
    }
  });

  it('Planner.usage (one row per host) gives the same figures as the full placement state', async () => {
    const t = await testEngine();
    try {
      const ids = demoIds(t.engine);
      const hosts = t.engine.db.prepare('SELECT id, uuid FROM hosts ORDER BY id').all() as { id: number; uuid: string }[];
      const before = hosts.map((h) => t.engine.planner.usage(h.id).vms);
      for (let i = 0; i < 3; i++) await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: i === 2 ? ids.large : ids.small, name: `p${i}`, hostid: hosts[i % 2]!.uuid });
      const stopped = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'p-stopped', hostid: hosts[1]!.uuid });
      await t.run('stopVirtualMachine', { id: (stopped['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id });
      const full = new DbPlacementState(t.engine.db, t.engine.settings);
      // Every host, plus an id with no host_usage row at all.
      for (const id of [...hosts.map((h) => h.id), 9999]) expect(t.engine.planner.usage(id)).toEqual(full.usage(id));
      // The two running VMs on host 1 and one on host 2 count; the stopped one does not.
      expect(hosts.slice(0, 2).map((h, i) => t.engine.planner.usage(h.id).vms - before[i]!)).toEqual([2, 1]);
      expect(t.engine.planner.usage(9999)).toEqual({ cpuMhz: 0, memory: 0, vms: 0 });
      // listHosts reports the same allocation.
      const listed = (await t.call('listHosts')).body['host'] as { id: string; memoryallocated: number }[];
      for (const h of hosts) expect(listed.find((l) => l.id === h.uuid)!.memoryallocated).toBe(full.usage(h.id).memory * 1024 * 1024);
    } finally {
      await t.close();
    }
  });
});
