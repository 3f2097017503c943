/**
 * Many VMs fast, for list tests and benchmarks: COUNT copies of a VM that was deployed through
 * the API (startvm=false), each with its own uuid, names, MAC and IP, its root volume and its NIC,
 * written in one transaction. 10,000 deploys through the API take minutes; 10,000 copies take
 * well under a second, and the list reads them exactly as it reads deployed ones.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../main/engine/db/database.js';

/** Columns of TABLE except those the copy writes itself. */
function copiedColumns(db: Db, table: string, own: string[]): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name).filter((c) => !own.includes(c));
}

export function cloneVms(db: Db, sourceUuid: string, count: number, prefix = 'clone'): void {
  const source = db.prepare('SELECT id FROM vm_instances WHERE uuid=?').get(sourceUuid) as { id: number } | undefined;
  if (!source) throw new Error(`no VM ${sourceUuid}`);
  const vmOwn = ['id', 'uuid', 'instance_name', 'display_name', 'hostname', 'internal_name', 'ref'];
  const vmCols = copiedColumns(db, 'vm_instances', vmOwn);
  const insertVm = db.prepare(
    `INSERT INTO vm_instances (uuid, instance_name, display_name, hostname, internal_name, ${vmCols.join(', ')})
     SELECT ?, ?, ?, ?, ?, ${vmCols.join(', ')} FROM vm_instances WHERE id=?`,
  );
  const volOwn = ['id', 'uuid', 'name', 'vm_id', 'path', 'ref'];
  const volCols = copiedColumns(db, 'volumes', volOwn);
  const insertVolumes = db.prepare(
    `INSERT INTO volumes (uuid, name, vm_id, ${volCols.join(', ')}) SELECT lower(hex(randomblob(16))), name || '-' || ?, ?, ${volCols.join(', ')} FROM volumes WHERE vm_id=? AND removed IS NULL`,
  );
  const nicOwn = ['id', 'uuid', 'vm_id', 'mac_address', 'ip4_address'];
  const nicCols = copiedColumns(db, 'nics', nicOwn);
  const insertNics = db.prepare(
    `INSERT INTO nics (uuid, vm_id, mac_address, ip4_address, ${nicCols.join(', ')}) SELECT ?, ?, ?, ?, ${nicCols.join(', ')} FROM nics WHERE vm_id=? AND removed IS NULL`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const name = `${prefix}-${String(i).padStart(5, '0')}`;
      const uuid = randomUUID();
      const id = Number(insertVm.run(uuid, `VM-${uuid}`, name, name, `i-0-${uuid}`, source.id).lastInsertRowid);
      insertVolumes.run(String(id), id, source.id);
      const n = id + 1000;
      insertNics.run(randomUUID(), id, `02:01:${hex(n >> 24)}:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}`, `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, source.id);
    }
  })();
}

function hex(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}
