/**
 * Which consoles a VM has: what its host's driver session offers (the console facet, recorded in
 * the host's capability map as consoleSerial and consoleGraphical), for the host it runs on or,
 * while it is stopped, the one it ran on last. The UI shows and offers only these.
 */
import type { Db } from '../db/database.js';
import { PAGE_IDS, rowsFor } from '../registry/list-page.js';

const SQL = `SELECT v.id AS vm_id, h.capabilities FROM vm_instances v JOIN hosts h ON h.id=COALESCE(v.host_id, v.last_host_id) WHERE v.id ${PAGE_IDS}`;

/** The console kinds of a page of VMs: `serial` and the graphical protocol (`vnc`, …), comma-separated as CloudStack lists names. */
export function consolesForPage(db: Db, ids: number[]): Map<number, string> {
  const out = new Map<number, string>();
  const parsed = new Map<string, string>();
  for (const [vmId, rows] of rowsFor<{ vm_id: number; capabilities: string | null }>(db, SQL, ids, 'vm_id')) {
    const json = rows[0]?.capabilities;
    if (!json) continue;
    let kinds = parsed.get(json);
    if (kinds === undefined) {
      const caps = JSON.parse(json) as Record<string, unknown>;
      kinds = [caps['consoleSerial'] === true ? 'serial' : undefined, typeof caps['consoleGraphical'] === 'string' ? caps['consoleGraphical'] : undefined].filter(Boolean).join(',');
      parsed.set(json, kinds);
    }
    if (kinds) out.set(vmId, kinds);
  }
  return out;
}

/** One VM's console kinds, as consolesForPage names them (`serial`, `vnc`, …). */
export function vmConsoles(db: Db, vmId: number): string[] {
  return consolesForPage(db, [vmId]).get(vmId)?.split(',') ?? [];
}

/** One VM's console kinds, or undefined when its host has recorded no capabilities (nothing is known yet). */
export function knownConsoles(db: Db, vmId: number): string[] | undefined {
  const recorded = db.prepare('SELECT h.capabilities FROM vm_instances v JOIN hosts h ON h.id=COALESCE(v.host_id, v.last_host_id) WHERE v.id=?').pluck().get(vmId) as string | null | undefined;
  return recorded ? vmConsoles(db, vmId) : undefined;
}
