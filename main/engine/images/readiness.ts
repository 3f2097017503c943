/** Whether a template or ISO can back a VM: one rule for deploy, restore and every start. */
import { ApiError } from '../registry/errors.js';
import type { TemplateRow } from '../vm/rows.js';

/** Why ROW cannot be used yet (its download is not complete, or it was made Inactive), or undefined. */
export function notReadyReason(row: Pick<TemplateRow, 'name' | 'is_iso' | 'state' | 'download_state' | 'status'>): string | undefined {
  if (row.state === 'Active' && row.download_state === 'DOWNLOADED') return undefined;
  return `${row.is_iso ? 'ISO' : 'template'} ${row.name} is not ready: ${row.status ?? row.download_state}`;
}

/** 431 naming PARAM when the image is not ready (CloudStack: "Template … has not been completely downloaded"). */
export function requireImageReady(row: Pick<TemplateRow, 'name' | 'is_iso' | 'state' | 'download_state' | 'status'>, param: string): void {
  const reason = notReadyReason(row);
  if (reason) throw ApiError.param(`${param}: ${reason}`);
}
