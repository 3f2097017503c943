/**
 * Rows of every kind a list command answers, several of each and with their related rows (tags,
 * GPUs, OS categories, affinity members, users per account, snapshot parents, backups), so a test
 * can tell a list whose statements grow with its rows from one that reads a page's related data in
 * one statement. Cheap kinds come through the API; the rest are copies of rows the API or the demo
 * seed made (as cloneVms copies VMs), each with its own uuid and names. Call it again with
 * another ROUND to add as many again.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../main/engine/db/database.js';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { demoIds, deployDemo, type TestEngine } from './engine.js';
import { cloneVms } from './seeded-vms.js';

const RENAMED = ['name', 'username', 'display_name', 'instance_name', 'internal_name', 'hostname'];

/** COUNT copies of row ID of TABLE: a new uuid, name-like columns suffixed, OVERRIDES set; returns the new ids. */
export function cloneRow(db: Db, table: string, id: number, count: number, suffix: string, overrides: Record<string, unknown> = {}): number[] {
  const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name).filter((c) => c !== 'id');
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const values: unknown[] = [];
    const select = columns.map((c) => {
      if (c in overrides) {
        values.push(overrides[c]);
        return '?';
      }
      if (c === 'uuid') {
        values.push(randomUUID());
        return '?';
      }
      if (c === 'api_key' || c === 'secret_key_enc') return 'NULL';
      if (RENAMED.includes(c)) {
        values.push(`-${suffix}-${i}`);
        return `${c} || ?`;
      }
      return c;
    });
    out.push(Number(db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) SELECT ${select.join(', ')} FROM ${table} WHERE id=?`).run(...values, id).lastInsertRowid));
  }
  return out;
}

const idOf = (db: Db, sql: string, ...args: unknown[]) => db.prepare(sql).pluck().get(...args) as number;

export async function seedEveryKind(t: TestEngine, round: string, n = 3): Promise<void> {
  const db = t.engine.db;
  const ids = demoIds(t.engine);
  const ok = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const job = (command: string, params: Record<string, string>) => t.job(command, params);

  // Domains, accounts with two users each.
  for (let i = 0; i < n; i++) {
    const domain = (await ok('createDomain', { name: `d-${round}-${i}` }))['domain'] as { id: string };
    const domainId = idOf(db, 'SELECT id FROM domains WHERE uuid=?', domain.id);
    const { userId } = t.engine.accounts.createAccount({ name: `acct-${round}-${i}`, role: i === 0 ? 'DomainAdmin' : 'User', domainId, username: `user-${round}-${i}`, password: 'secret-pw' });
    cloneRow(db, 'users', userId, 1, `${round}-second`);
  }

  // Zones, pods, clusters and hosts (with an OS category, host tags and GPUs).
  const zone = idOf(db, 'SELECT id FROM zones ORDER BY id LIMIT 1');
  const pod = idOf(db, 'SELECT id FROM pods ORDER BY id LIMIT 1');
  const cluster = idOf(db, 'SELECT id FROM clusters ORDER BY id LIMIT 1');
  const host = idOf(db, `SELECT id FROM hosts WHERE removed IS NULL ORDER BY id LIMIT 1`);
  // Two details each, so listResourceDetails (one row per zone detail) has rows to page.
  cloneRow(db, 'zones', zone, n, round, { details: JSON.stringify({ owner: `lab-${round}`, rack: 'A4' }) });
  cloneRow(db, 'pods', pod, n, round);
  const clusters = cloneRow(db, 'clusters', cluster, n, round);
  const category = idOf(db, 'SELECT id FROM guest_os_categories ORDER BY id LIMIT 1');
  for (const [i, hostId] of cloneRow(db, 'hosts', host, n, round, { os_category_id: category, host_tags: 'ssd,fast' }).entries()) {
    db.prepare('UPDATE hosts SET cluster_id=? WHERE id=?').run(clusters[i % clusters.length], hostId);
    // Connected, as addHost leaves a host: a list reads connected hosts, it does not make their first connection.
    await t.engine.hosts.session(hostId);
    for (const type of ['GRID K120Q', 'GRID K140Q']) {
      db.prepare('INSERT INTO host_gpus (host_id, group_name, vgpu_type, max_capacity, remaining_capacity, video_ram, max_heads, max_resolution_x, max_resolution_y) VALUES (?, ?, ?, 8, 6, 512, 2, 2560, 1600)').run(hostId, 'GRID K1', type);
    }
  }

  // Networks, offerings, templates and ISOs (tagged).
  cloneRow(db, 'networks', idOf(db, 'SELECT id FROM networks ORDER BY id LIMIT 1'), n, round);
  cloneRow(db, 'service_offerings', idOf(db, 'SELECT id FROM service_offerings WHERE uuid=?', ids.small), n, round);
  cloneRow(db, 'disk_offerings', idOf(db, 'SELECT id FROM disk_offerings WHERE uuid=?', ids.diskSmall), n, round);
  const templates = cloneRow(db, 'templates', idOf(db, 'SELECT id FROM templates WHERE uuid=?', ids.templateid), n, round);
  const isos = cloneRow(db, 'templates', idOf(db, 'SELECT id FROM templates WHERE uuid=?', ids.isoid), n, round);
  const uuidsOf = (table: string, rows: number[]) => rows.map((id) => db.prepare(`SELECT uuid FROM ${table} WHERE id=?`).pluck().get(id) as string).join(',');
  await ok('createTags', { resourcetype: 'Template', resourceids: uuidsOf('templates', templates), 'tags[0].key': 'os', 'tags[0].value': 'debian', 'tags[1].key': 'tier', 'tags[1].value': round });
  await ok('createTags', { resourcetype: 'ISO', resourceids: uuidsOf('templates', isos), 'tags[0].key': 'kind', 'tags[0].value': 'installer' });

  // VMs: a running one with VM snapshots (a chain, tagged), affinity groups with members, copies, tags, key pairs.
  const vm = await deployDemo(t, { name: `seed-${round}` });
  const snapshots: string[] = [];
  for (let i = 0; i < n; i++) snapshots.push(((await job('createVMSnapshot', { virtualmachineid: vm['id']!, name: `snap-${round}-${i}` }))['vmsnapshot'] as { id: string }).id);
  await ok('createTags', { resourcetype: 'VMSnapshot', resourceids: snapshots.join(','), 'tags[0].key': 'keep', 'tags[0].value': 'yes' });
  cloneVms(db, vm['id']!, 2 * n, `copy-${round}`);
  const vmIds = db.prepare(`SELECT id FROM vm_instances WHERE hostname LIKE ? ORDER BY id`).pluck().all(`copy-${round}-%`) as number[];
  await ok('createTags', { resourcetype: 'UserVm', resourceids: uuidsOf('vm_instances', vmIds), 'tags[0].key': 'role', 'tags[0].value': 'web' });
  for (let i = 0; i < n; i++) {
    const group = (await job('createAffinityGroup', { name: `ag-${round}-${i}`, type: 'host anti-affinity' }))['affinitygroup'] as { id: string };
    const groupId = idOf(db, 'SELECT id FROM affinity_groups WHERE uuid=?', group.id);
    for (const vmId of vmIds.slice(i, i + 2)) db.prepare('INSERT INTO affinity_group_vms (group_id, vm_id) VALUES (?, ?)').run(groupId, vmId);
    await ok('createSSHKeyPair', { name: `key-${round}-${i}` });
  }

  // Backups (the dummy provider): offerings, a VM assigned, backups of it, a schedule.
  const zoneid = ids.zoneid;
  await ok('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid });
  const offerings: string[] = [];
  for (let i = 0; i < n; i++) offerings.push(((await job('importBackupOffering', { zoneid, externalid: 'gold-policy', name: `gold-${round}-${i}`, description: 'gold', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id);
  await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm['id']!, backupofferingid: offerings[0]! });
  for (let i = 0; i < n; i++) await job('createBackup', { virtualmachineid: vm['id']! });
  for (const intervaltype of ['DAILY', 'WEEKLY']) await ok('createBackupSchedule', { virtualmachineid: vm['id']!, intervaltype, schedule: intervaltype === 'DAILY' ? '30:2' : '30:2:3', timezone: 'UTC', maxbackups: '3' });

  // Backup repositories (the nas provider's), as addBackupRepository writes them after its SSH check.
  for (let i = 0; i < n; i++) {
    db.prepare(`INSERT INTO backup_repositories (uuid, name, zone_id, provider, address, username, secret, trust_kind, trust_fingerprint, created) VALUES (?, ?, ?, 'nas', ?, 'root', 'sealed', 'ssh', 'SHA256:seed', '2026-12-01 10:00:00')`)
      .run(randomUUID(), `repo-${round}-${i}`, zone, `ssh://10.0.0.${i + 9}/srv/backups`);
  }

  // GPU holders: copies of the VM on a GPU offering, Running on the demo host.
  const gpuOffering = cloneRow(db, 'service_offerings', idOf(db, 'SELECT id FROM service_offerings WHERE uuid=?', ids.small), 1, `${round}-gpu`, { details: JSON.stringify({ pciDevice: 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs', vgpuType: 'GRID K120Q' }) })[0]!;
  db.prepare(`UPDATE vm_instances SET service_offering_id=?, state='Running', host_id=(SELECT id FROM hosts ORDER BY id LIMIT 1) WHERE id IN (${vmIds.slice(0, n).join(',')})`).run(gpuOffering);

  // VMs on a demo host that Kiln does not manage.
  const sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  const simHost = db.prepare('SELECT name FROM hosts ORDER BY id LIMIT 1').pluck().get() as string;
  for (let i = 0; i < n; i++) {
    const name = `foreign-${round}-${i}`;
    sim.addUnmanagedVm(simHost, {
      internalName: name, displayName: name, uuid: randomUUID(), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 512,
      disks: [{ name: `${name}.qcow2`, sizeBytes: 2 ** 30, device: 'disk', bus: 'virtio' }],
      nics: [{ macAddress: `52:54:00:ee:${round.length.toString(16).padStart(2, '0')}:${(i + 16 * (round.charCodeAt(0) % 16)).toString(16).padStart(2, '0')}`, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    } as Parameters<SimulatorDriver['addUnmanagedVm']>[1]);
  }
}
