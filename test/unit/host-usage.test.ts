/** The trigger-kept host_usage table always equals the sum over the VMs that hold capacity. */
import { describe, expect, it } from 'vitest';
import { testEngine, demoIds } from '../helpers/engine.js';

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
});
