/**
 * R49: the hypervisor's name for a VM's OS mapped onto Kiln's guest OS list. The list is walked
 * in its own order and the first match wins: an exact name (case and spacing aside) first, then
 * a Kiln name the hypervisor's contains word for word ("Debian GNU/Linux 12 (64-bit)" inside
 * "Debian GNU/Linux 12 (64-bit) with extras"). No match: the import asks for a templateid.
 */
import type { Db } from '../db/database.js';

const normal = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

/**
 * The guest OS table, read once per database: only the seed writes it, when the engine opens, and
 * a listing maps every unmanaged VM's OS name (one read per VM made listUnmanagedInstances grow).
 */
const guestOsLists = new WeakMap<Db, { id: number; display_name: string }[]>();
function guestOsList(db: Db): { id: number; display_name: string }[] {
  let list = guestOsLists.get(db);
  if (!list) guestOsLists.set(db, (list = db.prepare('SELECT id, display_name FROM guest_os ORDER BY id').all() as { id: number; display_name: string }[]));
  return list;
}

export function mapGuestOs(db: Db, hypervisorName: string | undefined): number | undefined {
  if (!hypervisorName?.trim()) return undefined;
  const wanted = normal(hypervisorName);
  const list = guestOsList(db);
  const exact = list.find((os) => normal(os.display_name) === wanted);
  if (exact) return exact.id;
  return list.find((os) => ` ${wanted} `.includes(` ${normal(os.display_name)} `))?.id;
}
