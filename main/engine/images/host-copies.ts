/**
 * The copies a deleted template or ISO left on hosts (CloudStack removes a deleted template from
 * every primary storage it was cached on). deleteImage writes, in the same transaction that marks
 * the image removed, one removal per host of the image's zone that could have a copy
 * (image_copy_removals, migration 43); each is then done through the storage facet's removeImage.
 * A removal that cannot be done yet stays written down, with the reason:
 * - the host does not answer: the expunge sweeper and the host's next connect try again;
 * - a VM Kiln knows still uses the image in the host's cluster (a forced deleteTemplate: a KVM
 *   VM's root disk is a linked clone of the copy): it waits until no such VM is left.
 * A row goes only once the host has confirmed the copy gone, so no copy is forgotten and nothing
 * is half-deleted: the image's own row is already settled (removed) whatever the hosts do.
 */
import { now } from '../db/database.js';
import type { Engine } from '../engine.js';
import type { HostSession, StagedImageName } from '../../../drivers/types.js';
import type { TemplateRow } from '../vm/rows.js';
import { isStaged, stagedFormat } from './staging.js';

interface RemovalRow {
  id: number;
  template_id: number;
  host_id: number;
  image_name: string;
  image_format: StagedImageName['format'];
  attempts: number;
  last_error: string | null;
}

/** A copy still on a host after a run, and why. */
export interface CopyLeft {
  host: string;
  reason: string;
}

const kindOf = (row: Pick<TemplateRow, 'is_iso'>) => (row.is_iso ? 'ISO' : 'template');
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Writes down a removal for every host that can hold a copy of ROW: the hosts of its zone (every
 * zone for a zone-wide image), of its hypervisor for a template. Call inside the transaction that
 * removes the row. Images hosts never copied (host paths, seed images, appliances) have none.
 */
export function planCopyRemovals(engine: Engine, row: TemplateRow): void {
  if (!isStaged(row)) return;
  const hosts = engine.db
    .prepare(`SELECT id FROM hosts WHERE removed IS NULL AND (? IS NULL OR zone_id=?) AND (? = 1 OR hypervisor=?)`)
    .pluck()
    .all(row.zone_id, row.zone_id, row.is_iso ? 1 : 0, row.hypervisor) as number[];
  const insert = engine.db.prepare('INSERT OR IGNORE INTO image_copy_removals (template_id, host_id, image_name, image_format, created) VALUES (?,?,?,?,?)');
  for (const hostId of hosts) insert.run(row.id, hostId, row.image_path, stagedFormat(row), now());
}

/** The VMs (not expunged) that still use the image in HOSTID's cluster, whose storage its hosts share. */
function usersNear(engine: Engine, templateId: number, hostId: number): string[] {
  return engine.db
    .prepare(
      `SELECT v.display_name FROM vm_instances v WHERE (v.template_id=? OR v.iso_id=?) AND v.state<>'Expunged'
         AND (v.cluster_id=(SELECT cluster_id FROM hosts WHERE id=?)
              OR v.host_id IN (SELECT id FROM hosts WHERE cluster_id=(SELECT cluster_id FROM hosts WHERE id=?))
              OR v.last_host_id IN (SELECT id FROM hosts WHERE cluster_id=(SELECT cluster_id FROM hosts WHERE id=?)))
       ORDER BY v.id`,
    )
    .pluck()
    .all(templateId, templateId, hostId, hostId, hostId) as string[];
}

/** Removals being done now (the job, the sweeper and a reconnect may meet on one row). */
const running = new Set<number>();

/**
 * Does the written-down removals (all, or those of one host or one image) whose host answers and
 * where no VM uses the image any more; the others stay, their reason updated. Returns the copies
 * still left by the rows it looked at.
 */
export async function runCopyRemovals(engine: Engine, filter: { hostId?: number; templateId?: number } = {}): Promise<CopyLeft[]> {
  const { db } = engine;
  const rows = db
    .prepare('SELECT * FROM image_copy_removals WHERE (? IS NULL OR host_id=?) AND (? IS NULL OR template_id=?) ORDER BY id')
    .all(filter.hostId ?? null, filter.hostId ?? null, filter.templateId ?? null, filter.templateId ?? null) as RemovalRow[];
  const left: CopyLeft[] = [];
  // A host that did not answer once is not asked again in the same run.
  const silent = new Map<number, string>();
  for (const row of rows) {
    if (running.has(row.id)) continue;
    running.add(row.id);
    const hostRow = db.prepare('SELECT name, removed FROM hosts WHERE id=?').get(row.host_id) as { name: string; removed: string | null } | undefined;
    const host = hostRow?.name ?? `#${row.host_id}`;
    const image = db.prepare('SELECT * FROM templates WHERE id=?').get(row.template_id) as TemplateRow;
    if (!hostRow || hostRow.removed !== null) {
      // A host taken out of Kiln: its storage is no longer Kiln's to clean, and it never answers again.
      db.prepare('DELETE FROM image_copy_removals WHERE id=?').run(row.id);
      running.delete(row.id);
      continue;
    }
    const keep = (reason: string) => {
      db.prepare('UPDATE image_copy_removals SET last_error=?, attempts=attempts+1 WHERE id=?').run(reason, row.id);
      left.push({ host, reason });
    };
    try {
      const users = usersNear(engine, row.template_id, row.host_id);
      if (users.length > 0) {
        keep(`used by VM${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
        continue;
      }
      const unanswered = silent.get(row.host_id);
      if (unanswered !== undefined) {
        keep(unanswered);
        continue;
      }
      let session: HostSession;
      try {
        session = await engine.hosts.session(row.host_id);
      } catch (error) {
        silent.set(row.host_id, errorText(error));
        keep(errorText(error));
        continue;
      }
      const remove = session.storage?.removeImage;
      if (!remove) {
        // Nothing can ever remove it through Kiln: said once, loudly, rather than retried for ever.
        db.prepare('DELETE FROM image_copy_removals WHERE id=?').run(row.id);
        record(engine, image, 'WARN', `${kindOf(image)} ${image.name}: host ${host}'s driver cannot remove image copies; ${row.image_name} stays in its storage`);
        continue;
      }
      try {
        const removed = await remove({ name: row.image_name, format: row.image_format });
        db.prepare('DELETE FROM image_copy_removals WHERE id=?').run(row.id);
        if (removed && row.attempts > 0) record(engine, image, 'INFO', `${kindOf(image)} ${image.name}: its copy on host ${host} removed (left before: ${row.last_error ?? 'unknown'})`);
      } catch (error) {
        if ((error as { category?: unknown }).category === 'unreachable') silent.set(row.host_id, errorText(error));
        keep(errorText(error));
      }
    } finally {
      running.delete(row.id);
    }
  }
  return left;
}

/** After deleteImage's own run: the event that says which copies are still to remove, and why. */
export function reportCopiesLeft(engine: Engine, image: TemplateRow, left: CopyLeft[]): void {
  if (left.length === 0) return;
  const where = left.map((l) => `host ${l.host} (${l.reason})`).join('; ');
  record(engine, image, 'WARN', `${kindOf(image)} ${image.name}: its copy is still to remove on ${where}; Kiln removes it when the host answers and no VM uses it`);
}

function record(engine: Engine, image: TemplateRow, level: 'INFO' | 'WARN', description: string): void {
  engine.events.record({
    type: image.is_iso ? 'ISO.DELETE' : 'TEMPLATE.DELETE',
    level,
    description,
    accountId: image.account_id,
    resourceType: image.is_iso ? 'Iso' : 'Template',
    resourceUuid: image.uuid,
  });
}

/** A host that connects does the removals it still owes. */
export function removeCopiesOnConnect(engine: Engine): void {
  engine.hosts.events.on('session-opened', ({ hostId }: { hostId: number }) => {
    runCopyRemovals(engine, { hostId }).catch((error: unknown) => engine.log.warn(`image copy removals on host ${hostId}: ${errorText(error)}`));
  });
}
