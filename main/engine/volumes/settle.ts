/**
 * Volumes a dead process left in a transient state (volume-states.ts), settled when Kiln opens,
 * before any job runs. What the host did is not known, so each goes where nothing can be lost:
 *
 * - Attaching / Creating: Ready and attached. The disk may be in the VM's definition (and the
 *   running guest); the database says so too, so no destroy or expunge treats it as someone
 *   else's, and the next start defines the VM with it (creating it if it was never made).
 * - Resizing: Ready, at the size recorded (a grown disk is only larger than Kiln says).
 * - Expunging: gone, and its disk owed to its host (host_cleanups), which deletes it when it
 *   answers (a disk already gone counts as deleted).
 *
 * Each writes an ERROR event naming the volume, so listEvents says what to check.
 */
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import type { DataVolumeRow } from './volume-service.js';

export function settleInterruptedVolumes(engine: Engine): number {
  const db = engine.db;
  const stuck = db.prepare(`SELECT * FROM volumes WHERE removed IS NULL AND state IN ('Attaching','Creating','Resizing','Expunging')`).all() as DataVolumeRow[];
  for (const v of stuck) {
    const vm = v.vm_id !== null ? (db.prepare('SELECT host_id, last_host_id, display_name FROM vm_instances WHERE id=?').get(v.vm_id) as { host_id: number | null; last_host_id: number | null; display_name: string }) : undefined;
    let note: string;
    if (v.state === 'Expunging') {
      db.transaction(() => {
        if (v.host_id !== null && v.path) db.prepare('INSERT INTO host_cleanups (host_id, vm_id, domain, disks, reason, created) VALUES (?,NULL,NULL,?,?,?)').run(v.host_id, JSON.stringify([v.path]), `volume ${v.name} deleted (interrupted)`, now());
        db.prepare(`UPDATE volumes SET state='Expunged', removed=? WHERE id=?`).run(now(), v.id);
        engine.events.usage({ type: 'VOLUME.DELETE', accountId: v.account_id, zoneId: v.zone_id, resourceId: v.id, resourceName: v.name });
      })();
      note = 'its delete was interrupted; the volume is gone and its disk is deleted on its host when that host answers';
    } else {
      db.prepare(`UPDATE volumes SET state='Ready', host_id=COALESCE(host_id, ?) WHERE id=?`).run(vm ? vm.host_id ?? vm.last_host_id : null, v.id);
      note = v.state === 'Resizing'
        ? 'its resize was interrupted; it is Ready at the size Kiln recorded, the disk may be larger'
        : `its attach to VM ${vm?.display_name ?? '?'} was interrupted; it is Ready and attached, and the VM's next start defines it with the disk`;
    }
    const domainId = (db.prepare('SELECT domain_id FROM accounts WHERE id=?').get(v.account_id) as { domain_id: number }).domain_id;
    engine.events.record({ type: v.state === 'Expunging' ? 'VOLUME.DELETE' : v.state === 'Resizing' ? 'VOLUME.RESIZE' : 'VOLUME.ATTACH', level: 'ERROR', description: `volume ${v.name}: ${note}`, accountId: v.account_id, domainId, resourceType: 'Volume', resourceUuid: v.uuid });
  }
  return stuck.length;
}
