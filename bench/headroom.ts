/**
 * P7: the N−1 headroom check (R14) of one cluster of 200 hosts running 2,000 VMs: every host's
 * failure simulated, its VMs placed one by one on the others through the real filters. It is
 * what checkClusterHeadroom, listClusters' haheadroom and the HA pass compute. The baseline,
 * measured in the same run, is the least such a check must do: placing each VM once among the
 * cluster's hosts (one state, inventory read once), so the ratio shows what the what-if view adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Engine, silentLogger } from '../main/engine/engine.js';
import { now } from '../main/engine/db/database.js';
import { clusterHeadroom } from '../main/engine/placement/headroom.js';
import { requestForVm } from '../main/engine/placement/request.js';
import { DbPlacementState } from '../main/engine/placement/db-state.js';
import type { VmRow } from '../main/engine/vm/rows.js';
import { median, timeRuns, type BenchResult } from './stats.js';

const HOSTS = 200;
const VMS = 2000;

export async function benchHeadroom(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
  const engine = await Engine.open({ dataDir: dir, background: false, log: silentLogger });
  const db = engine.db;
  const t = now();
  const admin = engine.accounts.localAdmin();
  const zone = db.prepare(`SELECT id FROM zones WHERE name='Demo'`).get() as { id: number };
  const pod = db.prepare('SELECT id FROM pods LIMIT 1').get() as { id: number };
  const offering = db.prepare('SELECT id FROM service_offerings LIMIT 1').get() as { id: number };
  const os = db.prepare('SELECT id FROM guest_os LIMIT 1').get() as { id: number };
  // A cluster of its own, so the demo cluster's VMs play no part.
  const cluster = Number(db.prepare(`INSERT INTO clusters (uuid, name, pod_id, zone_id, hypervisor, created) VALUES (?,?,?,?,'Simulator',?)`).run(randomUUID(), 'bench', pod.id, zone.id, t).lastInsertRowid);
  db.transaction(() => {
    const insertHost = db.prepare(`INSERT INTO hosts (uuid, name, zone_id, pod_id, cluster_id, hypervisor, url, state, host_tags, cpu_number, cpu_speed, memory_total, memory_free, created) VALUES (?,?,?,?,?,'Simulator','simulator://x','Up','',32,2500,262144,262144,?)`);
    for (let i = 0; i < HOSTS; i++) insertHost.run(randomUUID(), `bench-${i}`, zone.id, pod.id, cluster, t);
    const hostIds = (db.prepare('SELECT id FROM hosts WHERE cluster_id=?').all(cluster) as { id: number }[]).map((h) => h.id);
    const insertVm = db.prepare(`INSERT INTO vm_instances (uuid, instance_name, display_name, hostname, internal_name, state, account_id, user_id, domain_id, zone_id, pod_id, cluster_id, host_id, service_offering_id, os_type_id, cpu_number, cpu_speed, memory, hypervisor, created)
      VALUES (?,?,?,?,?,'Running',?,?,?,?,?,?,?,?,?,2,1000,4096,'Simulator',?)`);
    for (let v = 0; v < VMS; v++) insertVm.run(randomUUID(), `VM-h${v}`, `h${v}`, `h${v}`, `i-h-${v}`, admin.accountId, admin.userId, admin.domainId, zone.id, pod.id, cluster, hostIds[v % hostIds.length], offering.id, os.id, t);
  })();
  const vms = db.prepare('SELECT * FROM vm_instances WHERE cluster_id=?').all(cluster) as VmRow[];
  const hosts = engine.planner.candidates({ zoneId: zone.id, clusterId: cluster, cpuNumber: 1, cpuSpeed: 1, memory: 1, hostTags: [], accountId: admin.accountId });
  // One state and one host list for all: the placements alone, without re-reading the inventory.
  const placeEachOnce = () => {
    const state = new DbPlacementState(db, engine.settings);
    for (const vm of vms) engine.planner.plan(requestForVm(db, vm, { clusterId: cluster }), state, hosts);
  };
  timeRuns(placeEachOnce, 1);
  timeRuns(() => clusterHeadroom(engine, cluster), 1);
  const baseline = median(timeRuns(placeEachOnce, 5));
  const check = median(timeRuns(() => clusterHeadroom(engine, cluster), 5));
  const outcome = clusterHeadroom(engine, cluster);
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    name: `P7 N−1 headroom: one cluster, ${HOSTS} hosts, ${VMS} VMs`,
    value: check,
    unit: 'ms median',
    baseline,
    baselineName: 'placing each VM once',
    goal: '≤ 2× the baseline',
    met: check <= 2 * baseline,
    note: `${outcome.failures.length} host failures simulated; ${outcome.hasHeadroom ? 'has headroom' : outcome.warnings[0]}`,
  };
}
