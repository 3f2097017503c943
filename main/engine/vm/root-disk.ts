/**
 * Recreating a VM's root disk from its template: restoreVirtualMachine (R29) and the
 * reset-on-reboot option (R19) both come down to the same move. The old root volume is retired
 * and its file deleted on the host; a new volume row takes its place, so the next define clones
 * a fresh disk from the template.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import type { OfferingRow, TemplateRow, VmRow, VolumeRow } from './rows.js';
import { requireNoSnapshots } from './vm-snapshots.js';

export async function recreateRootDisk(engine: Engine, vm: VmRow, template: TemplateRow | undefined): Promise<void> {
  requireNoSnapshots(engine, vm, 'root disk');
  const db = engine.db;
  const old = db.prepare(`SELECT * FROM volumes WHERE vm_id=? AND volume_type='ROOT' AND removed IS NULL`).get(vm.id) as VolumeRow | undefined;
  const hostId = vm.host_id ?? vm.last_host_id;
  if (old?.path && hostId !== null) await (await engine.hosts.session(hostId)).deleteDisks([old.path]);
  db.transaction(() => {
    const uuid = randomUUID();
    const size = template ? Math.max(template.size, old?.size ?? 0) : old?.size ?? 0;
    if (old) db.prepare(`UPDATE volumes SET state='Expunged', removed=?, vm_id=NULL WHERE id=?`).run(now(), old.id);
    db.prepare(
      'INSERT INTO volumes (uuid, name, vm_id, account_id, zone_id, volume_type, device_id, size, path, disk_offering_id, template_id, state, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
    ).run(uuid, `ROOT-${vm.id}`, vm.id, vm.account_id, vm.zone_id, 'ROOT', 0, size, engine.hosts.volumeName(vm.hypervisor, uuid), old?.disk_offering_id ?? null, template?.id ?? null, 'Allocated', now());
    if (old) engine.events.usage({ type: 'VOLUME.DELETE', accountId: vm.account_id, zoneId: vm.zone_id, resourceId: old.id, resourceName: old.name });
  })();
}

/** R19: a volatile offering (or a template with resetonreboot=true) gives a fresh root disk on every reboot. */
export function resetsOnReboot(engine: Engine, vm: VmRow): boolean {
  const offering = engine.db.prepare('SELECT volatile_vm FROM service_offerings WHERE id=?').get(vm.service_offering_id) as Pick<OfferingRow, 'volatile_vm'>;
  if (offering.volatile_vm === 1) return true;
  if (vm.template_id === null) return false;
  const template = engine.db.prepare('SELECT details FROM templates WHERE id=?').get(vm.template_id) as { details: string };
  return (JSON.parse(template.details) as Record<string, string>)['resetonreboot'] === 'true';
}
