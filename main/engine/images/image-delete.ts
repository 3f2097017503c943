/**
 * Deleting a registered template or ISO (deleteTemplate, deleteIso): who may, what refuses it, and
 * the removal itself. The checks run when the command is called (so a refusal is the command's
 * answer) and again inside the job (a VM deployed meanwhile still counts). What Kiln staged goes
 * with the row: a running download is stopped, the copy in the zone's image store removed, and
 * the copies on hosts removed through the storage facet's removeImage, except where a VM still
 * uses one or the host does not answer: those are written down and done later (host-copies.ts).
 */
import { rename, rm } from 'node:fs/promises';
import type { Caller } from '../registry/types.js';
import { ApiError } from '../registry/errors.js';
import { byUuid } from '../lookup.js';
import { now } from '../db/database.js';
import { requireAccountAccess } from '../vm/access.js';
import type { TemplateRow } from '../vm/rows.js';
import type { Engine } from '../engine.js';
import { planCopyRemovals, reportCopiesLeft, runCopyRemovals } from './host-copies.js';

export interface DeleteRequest {
  id: string;
  zoneId?: string;
  /** deleteTemplate's forced: delete a template VMs still use (their disks are theirs already). */
  forced?: boolean;
}

const kindOf = (row: Pick<TemplateRow, 'is_iso'>) => (row.is_iso ? 'ISO' : 'template');

/**
 * The seed images and the import placeholder have no URL: Kiln made them, nobody registered them.
 * listTemplates shows them as templatetype BUILTIN (so the UI offers no Delete), and they cannot be deleted.
 */
export const isBuiltInImage = (row: Pick<TemplateRow, 'url'>): boolean => row.url === null;

/** The image the caller may delete, or the CloudStack error saying why not (nothing is changed). */
export function imageToDelete(engine: Engine, caller: Caller, iso: boolean, request: DeleteRequest): TemplateRow {
  const { db } = engine;
  const row = byUuid<TemplateRow>(db, 'template', request.id, 'id');
  if (Boolean(row.is_iso) !== iso) throw ApiError.param(`id: ${row.uuid} is ${row.is_iso ? 'an ISO; use deleteIso' : 'a template; use deleteTemplate'}`);
  requireAccountAccess(db, caller, row.account_id, `${kindOf(row)} ${row.name}`);
  if (isBuiltInImage(row)) throw ApiError.param(`id: ${kindOf(row)} ${row.name} is built in and cannot be deleted`);
  if (request.zoneId !== undefined) {
    const zone = byUuid<{ id: number; name: string }>(db, 'zone', request.zoneId, 'zoneid');
    if (row.zone_id !== null && row.zone_id !== zone.id) throw ApiError.param(`zoneid: ${kindOf(row)} ${row.name} is not in zone ${zone.name}`);
  }
  const users = db
    .prepare(`SELECT display_name FROM vm_instances WHERE ${iso ? 'iso_id' : 'template_id'}=? AND state<>'Expunged' ORDER BY id`)
    .pluck()
    .all(row.id) as string[];
  if (users.length > 0 && !(request.forced && !iso)) {
    const how = iso ? 'is attached to' : 'is used by';
    const hint = iso ? 'detach it first' : 'expunge them first, or give forced=true';
    throw ApiError.param(`id: ${kindOf(row)} ${row.name} ${how} VM${users.length > 1 ? 's' : ''} ${users.join(', ')}; ${hint}`);
  }
  return row;
}

/**
 * Removes ROW: its download stopped, its store file set aside, the row marked removed (Inactive, so
 * a VM that still names it cannot start from it on a host without a copy), then the file deleted.
 * Should the row's update fail, the file is put back: the image stays as it was.
 */
export async function deleteImage(engine: Engine, caller: Caller, row: TemplateRow): Promise<void> {
  const { db } = engine;
  await engine.images.cancel(row.id);
  const current = db.prepare('SELECT store_path FROM templates WHERE id=?').get(row.id) as Pick<TemplateRow, 'store_path'>;
  const file = current.store_path;
  const aside = file ? `${file}.deleting` : undefined;
  if (file && aside) await rename(file, aside).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  try {
    // The host copies to remove are written with the removal itself: none is forgotten if Kiln stops now.
    db.transaction(() => {
      db.prepare(`UPDATE templates SET removed=?, state='Inactive', status='Deleted', store_path=NULL WHERE id=? AND removed IS NULL`).run(now(), row.id);
      planCopyRemovals(engine, { ...row, store_path: file });
    })();
  } catch (error) {
    if (file && aside) await rename(aside, file).catch(() => undefined);
    throw error;
  }
  if (aside) await rm(aside, { force: true });
  engine.bus.emit('template', { id: row.id });
  engine.events.record({
    type: row.is_iso ? 'ISO.DELETE' : 'TEMPLATE.DELETE',
    description: `${kindOf(row)} ${row.name} deleted`,
    userId: caller.userId,
    accountId: caller.accountId,
    domainId: caller.domainId,
    resourceType: row.is_iso ? 'Iso' : 'Template',
    resourceUuid: row.uuid,
  });
  reportCopiesLeft(engine, row, await runCopyRemovals(engine, { templateId: row.id }));
}
