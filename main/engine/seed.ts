/**
 * The embedded default: on first run, a ROOT domain with the root admin (and API keys), a guest
 * OS catalogue, and a "Demo" zone on the simulator (one pod, one cluster, three hosts) with
 * templates, an ISO, offerings, an L2 network and two demo VMs deployed the normal way.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Engine } from './engine.js';
import { initialAdminPasswordFile } from './data-dir.js';
import { now } from './db/database.js';
import { GiB } from './format.js';
import type { NetworkRow, OfferingRow, TemplateRow } from './vm/rows.js';

export const GUEST_OS: Record<string, string[]> = {
  CentOS: ['CentOS 7 (64-bit)', 'CentOS 8 (64-bit)'],
  Debian: ['Debian GNU/Linux 11 (64-bit)', 'Debian GNU/Linux 12 (64-bit)'],
  Ubuntu: ['Ubuntu 22.04 LTS (64-bit)', 'Ubuntu 24.04 LTS (64-bit)'],
  'Rocky Linux': ['Rocky Linux 9 (64-bit)'],
  Windows: ['Windows 7 (32-bit)', 'Windows Server 2019 (64-bit)', 'Windows Server 2022 (64-bit)'],
  Other: ['Other Linux (64-bit)', 'Other (64-bit)'],
};

export async function seedDefaults(engine: Engine): Promise<void> {
  const db = engine.db;
  const seeded = db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number };
  if (seeded.n > 0) return;

  const adminPassword = randomBytes(12).toString('base64url');
  const t = now();
  const ids = db.transaction(() => {
    const domainId = engine.accounts.rootDomainId();
    const { userId } = engine.accounts.createAccount({ name: 'admin', role: 'Admin', domainId, username: 'admin', password: adminPassword, firstname: 'Admin', lastname: 'User' });
    engine.accounts.registerKeys(userId);
    const adminAccount = (db.prepare('SELECT account_id FROM users WHERE id=?').get(userId) as { account_id: number }).account_id;

    const osIds: Record<string, number> = {};
    for (const [category, names] of Object.entries(GUEST_OS)) {
      const categoryId = Number(db.prepare('INSERT INTO guest_os_categories (uuid, name) VALUES (?,?)').run(randomUUID(), category).lastInsertRowid);
      for (const name of names) osIds[name] = Number(db.prepare('INSERT INTO guest_os (uuid, category_id, display_name, is_64bit) VALUES (?,?,?,?)').run(randomUUID(), categoryId, name, name.includes('32-bit') ? 0 : 1).lastInsertRowid);
    }

    const zoneId = Number(db.prepare('INSERT INTO zones (uuid, name, network_type, dns1, created) VALUES (?,?,?,?,?)').run(randomUUID(), 'Demo', 'Advanced', '8.8.8.8', t).lastInsertRowid);
    const podId = Number(db.prepare('INSERT INTO pods (uuid, name, zone_id, gateway, netmask, start_ip, end_ip, created) VALUES (?,?,?,?,?,?,?,?)').run(randomUUID(), 'Demo Pod', zoneId, '192.168.100.1', '255.255.255.0', '192.168.100.10', '192.168.100.99', t).lastInsertRowid);
    const clusterId = Number(db.prepare('INSERT INTO clusters (uuid, name, pod_id, zone_id, hypervisor, created) VALUES (?,?,?,?,?,?)').run(randomUUID(), 'Demo Cluster', podId, zoneId, 'Simulator', t).lastInsertRowid);
    for (let i = 1; i <= 3; i++) {
      db.prepare('INSERT INTO hosts (uuid, name, zone_id, pod_id, cluster_id, hypervisor, url, state, created) VALUES (?,?,?,?,?,?,?,?,?)').run(
        randomUUID(), `sim-host-${i}`, zoneId, podId, clusterId, 'Simulator', `simulator://sim-host-${i}?cpus=8&mhz=2000&memory=16384`, 'Connecting', t,
      );
    }

    const template = (name: string, text: string, os: string, iso: boolean, scalable: boolean, size: number) =>
      db
        .prepare(
          `INSERT INTO templates (uuid, name, display_text, format, hypervisor, is_iso, os_type_id, is_public, is_featured, is_dynamically_scalable, size, image_path, account_id, zone_id, created)
           VALUES (?,?,?,?,?,?,?,1,1,?,?,?,?,?,?)`,
        )
        .run(randomUUID(), name, text, iso ? 'ISO' : 'QCOW2', 'Simulator', iso ? 1 : 0, osIds[os], scalable ? 1 : 0, size, `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.${iso ? 'iso' : 'qcow2'}`, adminAccount, zoneId, t);
    template('Debian 12', 'Debian GNU/Linux 12 (bookworm) cloud image', 'Debian GNU/Linux 12 (64-bit)', false, true, 2 * GiB);
    template('Ubuntu 24.04', 'Ubuntu 24.04 LTS cloud image', 'Ubuntu 24.04 LTS (64-bit)', false, true, 3 * GiB);
    template('Rocky 9', 'Rocky Linux 9 generic cloud image', 'Rocky Linux 9 (64-bit)', false, false, 2 * GiB);
    template('Debian 12 netinst', 'Debian 12 network installer ISO', 'Debian GNU/Linux 12 (64-bit)', true, false, Math.round(0.6 * GiB));

    const offering = (name: string, text: string, cpu: number | null, speed: number | null, memory: number | null, extra: Partial<OfferingRow> = {}) =>
      db
        .prepare(
          `INSERT INTO service_offerings (uuid, name, display_text, cpu_number, cpu_speed, memory, min_cpu_number, max_cpu_number, min_memory, max_memory, host_tags, offer_ha, dynamic_scaling_enabled, created)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        )
        .run(randomUUID(), name, text, cpu, speed, memory, extra.min_cpu_number ?? null, extra.max_cpu_number ?? null, extra.min_memory ?? null, extra.max_memory ?? null, extra.host_tags ?? '', extra.offer_ha ?? 0, 1, t);
    offering('Small Instance', 'Small Instance, 1 vCPU 500 MHz, 512 MB', 1, 500, 512);
    offering('Medium Instance', 'Medium Instance, 1 vCPU 1 GHz, 1 GB', 1, 1000, 1024);
    offering('Large Instance', 'Large Instance, 2 vCPU 2 GHz, 4 GB', 2, 2000, 4096);
    offering('HA Instance', 'HA Instance, 1 vCPU 1 GHz, 1 GB, offers HA', 1, 1000, 1024, { offer_ha: 1 });
    offering('Custom', 'Custom: any CPU and memory', null, null, null);
    offering('Custom Constrained', 'Custom constrained: 1-4 vCPU, 512 MB-8 GB, 1 GHz', null, 1000, null, { min_cpu_number: 1, max_cpu_number: 4, min_memory: 512, max_memory: 8192 });

    const disk = (name: string, size: number, custom: boolean) =>
      db.prepare('INSERT INTO disk_offerings (uuid, name, display_text, disk_size, is_customized, created) VALUES (?,?,?,?,?,?)').run(randomUUID(), name, `${name} disk`, size, custom ? 1 : 0, t);
    disk('Small', 5 * GiB, false);
    disk('Medium', 20 * GiB, false);
    disk('Custom', 0, true);

    db.prepare('INSERT INTO networks (uuid, name, display_text, zone_id, guest_type, vlan, acl_type, created) VALUES (?,?,?,?,?,?,?,?)').run(randomUUID(), 'Demo L2', 'Demo L2 network, VLAN 100', zoneId, 'L2', 100, 'Domain', t);
    return { zoneId, userId };
  })();

  writeFileSync(initialAdminPasswordFile(engine.dataDir), `${adminPassword}\n`, { mode: 0o600 });
  engine.log.info(`initialised ${engine.dataDir}: root admin "admin" (password in initial-admin-password), demo zone on the simulator`);

  // Connect the simulated hosts so their capacity is known, then deploy the demo VMs the normal way.
  const hostIds = (db.prepare('SELECT id FROM hosts WHERE zone_id=?').all(ids.zoneId) as { id: number }[]).map((h) => h.id);
  for (const id of hostIds) await engine.hosts.session(id);
  const caller = engine.accounts.localAdmin();
  const tpl = db.prepare(`SELECT * FROM templates WHERE name='Debian 12'`).get() as TemplateRow;
  const small = db.prepare(`SELECT * FROM service_offerings WHERE name='Small Instance'`).get() as OfferingRow;
  const network = db.prepare(`SELECT * FROM networks WHERE zone_id=?`).get(ids.zoneId) as NetworkRow;
  for (const name of ['demo-web', 'demo-db']) {
    const vm = engine.vms.allocate(caller, {
      zoneId: ids.zoneId, offering: small, template: tpl, networks: [network], name, displayName: name, startVm: true,
      cpuNumber: small.cpu_number ?? 1, cpuSpeed: small.cpu_speed ?? 500, memory: small.memory ?? 512, haEnabled: false, dynamicallyScalable: true,
      details: {}, owner: { accountId: caller.accountId, userId: caller.userId, domainId: caller.domainId },
    });
    await engine.vms.start(caller, vm, {});
  }
}
