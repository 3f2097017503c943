/**
 * P4: placing one VM among 1,000 hosts holding 20,000 VMs, with host tags and a 50-member
 * anti-affinity group. The baseline, measured in the same run, is the two queries any
 * placement must make (the candidate hosts and their usage), so the ratio shows what the
 * pipeline adds on top of reading the inventory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Engine, silentLogger } from '../main/engine/engine.js';
import { now } from '../main/engine/db/database.js';
import { median, timeRuns, type BenchResult } from './stats.js';

export async function benchPlacement(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
  const engine = await Engine.open({ dataDir: dir, background: false, log: silentLogger });
  const db = engine.db;
  const t = now();
  const zone = db.prepare(`SELECT id FROM zones WHERE name='Demo'`).get() as { id: number };
  const pod = db.prepare('SELECT id FROM pods LIMIT 1').get() as { id: number };
  const cluster = db.prepare('SELECT id FROM clusters LIMIT 1').get() as { id: number };
  const admin = engine.accounts.localAdmin();
  const offering = db.prepare('SELECT id FROM service_offerings LIMIT 1').get() as { id: number };
  const os = db.prepare('SELECT id FROM guest_os LIMIT 1').get() as { id: number };
  const group = Number(db.prepare(`INSERT INTO affinity_groups (uuid, name, type, account_id, domain_id, created) VALUES (?,?,?,?,?,?)`).run(randomUUID(), 'spread', 'host anti-affinity', admin.accountId, admin.domainId, t).lastInsertRowid);
  db.transaction(() => {
    const insertHost = db.prepare(`INSERT INTO hosts (uuid, name, zone_id, pod_id, cluster_id, hypervisor, url, state, host_tags, cpu_number, cpu_speed, memory_total, memory_free, created) VALUES (?,?,?,?,?,'Simulator','simulator://x','Up',?,32,2500,262144,262144,?)`);
    for (let i = 0; i < 1000; i++) insertHost.run(randomUUID(), `bench-${i}`, zone.id, pod.id, cluster.id, i % 2 ? 'ssd,fast' : 'hdd', t);
    const hostIds = (db.prepare(`SELECT id FROM hosts WHERE name LIKE 'bench-%'`).all() as { id: number }[]).map((h) => h.id);
    const insertVm = db.prepare(`INSERT INTO vm_instances (uuid, instance_name, display_name, hostname, internal_name, state, account_id, user_id, domain_id, zone_id, pod_id, cluster_id, host_id, service_offering_id, os_type_id, cpu_number, cpu_speed, memory, hypervisor, created)
      VALUES (?,?,?,?,?,'Running',?,?,?,?,?,?,?,?,?,2,1000,4096,'Simulator',?)`);
    for (let v = 0; v < 20000; v++) {
      const id = Number(insertVm.run(randomUUID(), `VM-b${v}`, `b${v}`, `b${v}`, `i-b-${v}`, admin.accountId, admin.userId, admin.domainId, zone.id, pod.id, cluster.id, hostIds[v % hostIds.length], offering.id, os.id, t).lastInsertRowid);
      if (v < 50) db.prepare('INSERT INTO affinity_group_vms (group_id, vm_id) VALUES (?,?)').run(group, id);
    }
  })();
  engine.settings.set('vm.allocation.algorithm', 'firstfitleastconsumed');
  const request = { zoneId: zone.id, cpuNumber: 2, cpuSpeed: 1000, memory: 4096, hostTags: ['ssd'], accountId: admin.accountId, affinityGroupIds: [group] };
  const baselineQuery = () => {
    db.prepare('SELECT id, host_tags, state, cpu_number, cpu_speed, memory_total FROM hosts WHERE removed IS NULL AND zone_id=?').all(zone.id);
    db.prepare('SELECT host_id, cpu_mhz, memory, vms FROM host_usage').all();
  };
  timeRuns(baselineQuery, 20);
  timeRuns(() => engine.planner.plan(request), 20);
  const baseline = median(timeRuns(baselineQuery, 200));
  const plan = median(timeRuns(() => engine.planner.plan(request), 200));
  const outcome = engine.planner.plan(request);
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    name: 'P4 placement: 1,000 hosts, 20,000 VMs, tags + anti-affinity',
    value: plan,
    unit: 'ms median',
    baseline,
    baselineName: 'reading hosts and usage (2 queries)',
    goal: '≤ 5 ms median',
    met: plan <= 5,
    note: `chose ${outcome.host?.name}; ${outcome.considered.filter((v) => !v.suitable).length} hosts refused`,
  };
}
