/**
 * The zone's image store: Kiln's counterpart of CloudStack's secondary storage. Downloaded
 * templates and ISOs live under the data directory, one directory per zone, named by their
 * uuid; a host gets its own copy (in its storage pool) the first time a VM there needs one.
 * Every name here is Kiln's, never a user's.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TemplateRow } from '../vm/rows.js';

const EXTENSIONS: Record<string, string> = { QCOW2: 'qcow2', RAW: 'img', ISO: 'iso', VHD: 'vhd', OVA: 'ova' };

/** <data dir>/image-store/zone-<uuid>, created (0700) on first use. */
export function zoneStoreDir(dataDir: string, zoneUuid: string): string {
  const dir = join(dataDir, 'image-store', `zone-${zoneUuid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function storeFileName(row: Pick<TemplateRow, 'uuid' | 'format'>): string {
  return `${row.uuid}.${EXTENSIONS[row.format] ?? 'img'}`;
}

/** The name a host's copy gets (a volume in its pool): fixed by Kiln from the template's uuid. */
export function hostImageName(row: Pick<TemplateRow, 'uuid' | 'format' | 'is_iso'>): string {
  return `kiln-${row.is_iso ? 'iso' : 'tmpl'}-${storeFileName(row)}`;
}
