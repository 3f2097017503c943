/**
 * HA and checkClusterHeadroom agree on real KVM hosts whose pool is a local dir pool (the zone
 * does not name it in details sharedPools, so each host's pool is HOST-scoped): an HA VM on host2
 * has its disk on host2's own pool. Headroom says it could not restart elsewhere, naming the pool
 * and host2; when host2 is cut off, HA does not start it on host1 (where its disk is not) and says
 * why in the VM's events. Kiln is then closed and opened again on the same data directory while
 * host2 is still away (the wait for host2 is in the database, ha/pending-restarts.ts; before, it
 * was in memory and the reopened Kiln left the VM Stopped for good); once host2 is back the VM
 * runs there again. kvm-engine-ha.real covers the same zone with the pool declared shared, where
 * the VM restarts on host1 in both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../helpers/engine.js';
import { cleanUp, harness, kvmHostsOrSkip, kvmZone, onHost, testKvmDriver, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const ISOLATION_AFTER_S = 8;

describe.skipIf(!hosts)('HA and headroom on real KVM hosts with a local (HOST-scoped) pool', () => {
  let z: KvmZone;
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1', 'host2'], testKvmDriver(hosts!, { isolationAfterS: ISOLATION_AFTER_S }));
    await z.t.call('updateConfiguration', { name: 'ha.monitor.interval', value: '2' });
    z.t.engine.background.ha.start();
  }, 120_000);
  afterAll(async () => {
    if (!z) return;
    z.t.engine.background.ha.stop();
    await cleanUp(z.t);
    await z.t.close();
  }, 180_000);

  const row = (id: string) => z.t.engine.db.prepare('SELECT v.state, v.internal_name, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { state: string; internal_name: string; host: string | null };
  const hostState = (name: string) => (z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').get(z.hostIds[name]) as { state: string }).state;
  async function until(what: string, check: () => boolean, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events ${JSON.stringify(z.t.engine.db.prepare('SELECT type, description FROM events ORDER BY id DESC LIMIT 8').all())}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await z.t.engine.jobs.drain();
  }

  it('headroom calls the VM unplaceable for its local disk, and HA leaves it for its host instead of starting it on host1', { timeout: 300_000 }, async () => {
    const deployed = await z.t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host2']!, name: 'kvm-ha-local', haenable: 'true' });
    const vm = (deployed['virtualmachine'] as { id: string }).id;
    await z.t.ok('listStoragePools', { zoneid: z.zoneid });
    const root = z.t.engine.db.prepare(`SELECT o.name, p.name AS pool, p.scope FROM volumes o JOIN vm_instances v ON v.id=o.vm_id JOIN storage_pools p ON p.id=o.pool_id WHERE v.uuid=? AND o.volume_type='ROOT'`).get(vm) as { name: string; pool: string; scope: string };
    expect([root.pool, root.scope]).toEqual([hosts!.poolName, 'HOST']);
    const host2 = hosts!.hosts[1]!.address;
    const bound = `volume ${root.name} is on local storage pool ${hosts!.poolName} of host ${host2}, which only that host reaches; the VM can restart only there (move the volume to shared storage first: migrateVolume)`;
    const headroom = (await z.t.ok('checkClusterHeadroom', { clusterid: z.clusterid }))['clusterheadroom'] as { hostfailure: { hostname: string; unplaceable: { name: string; reason: string }[] }[] };
    expect(headroom.hostfailure.find((f) => f.hostname === host2)!.unplaceable).toMatchObject([{ name: 'kvm-ha-local', reason: bound }]);

    const internal = row(vm).internal_name;
    harness('stop-host', 'host2', '--keep-link');
    try {
      await until('HA to give up on restarting it elsewhere', () => z.t.engine.db.prepare(`SELECT COUNT(*) FROM events WHERE resource_uuid=? AND description LIKE ?`).pluck().get(vm, `%${bound}%`) === 1, 120_000);
      expect(row(vm).state).toBe('Stopped');
      expect(onHost('host1', 'virsh', 'list', '--all', '--name').split('\n')).not.toContain(internal);
      expect(z.t.engine.db.prepare(`SELECT COUNT(*) FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=?`).pluck().get(vm)).toBe(0);
      // Kiln closed and opened again on the same data directory while the VM waits for host2.
      z.t.engine.background.ha.stop();
      await z.t.engine.close();
      z.t = await testEngine({ dataDir: z.t.dataDir, drivers: [testKvmDriver(hosts!, { isolationAfterS: ISOLATION_AFTER_S })] });
      // Two passes of the reopened Kiln with host2 still away (then its own timer's).
      for (let i = 0; i < 2; i++) await z.t.engine.background.ha.pass();
      await z.t.engine.jobs.drain();
      z.t.engine.background.ha.start();
      expect(row(vm).state).toBe('Stopped');
      expect(onHost('host1', 'virsh', 'list', '--all', '--name').split('\n')).not.toContain(internal);
      expect(z.t.engine.db.prepare(`SELECT COUNT(*) FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=?`).pluck().get(vm)).toBe(0);
    } finally {
      harness('start-host', 'host2');
    }
    await until('host2 to be Up again', () => hostState('host2') === 'Up', 90_000);
    await until('the VM to run on host2 again', () => row(vm).state === 'Running' && row(vm).host === host2, 90_000);
  });
});
