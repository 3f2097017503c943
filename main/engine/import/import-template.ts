/**
 * R44: a VM imported without a templateid gets Kiln's built-in dummy template, as CloudStack's
 * imports get its "system default template". It has no image, so nothing can be deployed or
 * restored from it (restoreVirtualMachine refuses it by isImportTemplate).
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import type { TemplateRow } from '../vm/rows.js';

export const IMPORT_TEMPLATE_NAME = 'kiln-import-default';
const MARK = 'kiln.importTemplate';

export function isImportTemplate(row: Pick<TemplateRow, 'details'> | undefined): boolean {
  if (!row) return false;
  try {
    return (JSON.parse(row.details) as Record<string, string>)[MARK] === 'true';
  } catch {
    return false;
  }
}

/** The dummy template, made on first use (owned by the root admin, not public, not bootable). */
export function importTemplate(engine: Engine, osTypeId: number): TemplateRow {
  const db = engine.db;
  const existing = (db.prepare(`SELECT * FROM templates WHERE name=? AND removed IS NULL ORDER BY id`).all(IMPORT_TEMPLATE_NAME) as TemplateRow[]).find(isImportTemplate);
  if (existing) return existing;
  const admin = db.prepare(`SELECT a.id FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.role='Admin' AND d.parent_id IS NULL AND a.removed IS NULL ORDER BY a.id LIMIT 1`).pluck().get() as number;
  const id = Number(
    db.prepare(
      `INSERT INTO templates (uuid, name, display_text, format, hypervisor, is_iso, os_type_id, is_public, is_featured, bootable, size, details, account_id, state, download_state, created)
       VALUES (?,?,?,?,?,0,?,0,0,0,0,?,?,'Active','DOWNLOADED',?)`,
    ).run(randomUUID(), IMPORT_TEMPLATE_NAME, 'The template of VMs imported without one; it has no image and cannot be restored to', 'RAW', 'Any', osTypeId, JSON.stringify({ [MARK]: 'true' }), admin, now()).lastInsertRowid,
  );
  return db.prepare('SELECT * FROM templates WHERE id=?').get(id) as TemplateRow;
}
