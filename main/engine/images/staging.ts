/**
 * Before a host defines a VM, the VM's template and ISO must be in the host's own storage. Images
 * Kiln downloaded are copied there from the zone's image store through the driver's stageImage,
 * under the name Kiln gave them (hostImageName); host paths (the root admin's) and the
 * simulator's seed images are already where the host looks.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { DriverError, type HostSession, type StoredImage } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { TemplateRow, VmRow } from '../vm/rows.js';
import { notReadyReason } from './readiness.js';

/** The format a host's copy of ROW has (the storage facet's StoredImage.format): one rule for staging and removal. */
export const stagedFormat = (row: Pick<TemplateRow, 'is_iso' | 'format'>): StoredImage['format'] => (row.is_iso ? 'iso' : row.format === 'QCOW2' ? 'qcow2' : 'raw');

/** Whether hosts get a copy of ROW from the image store (an appliance is imported at its first define instead). */
export const isStaged = (row: Pick<TemplateRow, 'store_path' | 'sha256' | 'image_path' | 'deploy_as_is'>): boolean => Boolean(row.store_path && row.sha256 && row.image_path && !row.deploy_as_is);

/** LENGTH bytes of FILE at POSITION, short only past its end (the store's StoredImage.readAt). */
export async function readFileAt(file: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** One copy of an image at a time: hosts on shared storage see each other's copies. */
const inFlight = new Map<number, Promise<unknown>>();

export async function stageImages(engine: Engine, session: HostSession, vm: Pick<VmRow, 'template_id' | 'iso_id'>): Promise<void> {
  for (const id of [vm.template_id, vm.iso_id]) {
    if (id === null) continue;
    const row = engine.db.prepare('SELECT * FROM templates WHERE id=?').get(id) as TemplateRow | undefined;
    if (!row) continue;
    // A VM made before its template was made Inactive (migration 9) must not start from it either.
    const reason = notReadyReason(row);
    if (reason) throw new DriverError(reason, 'invalid');
    // An appliance is not copied ahead: its first define imports it from the store (VmSpec.appliance).
    if (!isStaged(row)) continue;
    if (!session.storage) throw new DriverError(`this host's driver cannot copy images from Kiln's image store (${row.name})`, 'unsupported');
    const image: StoredImage = {
      name: row.image_path!,
      format: stagedFormat(row),
      sizeBytes: row.physical_size ?? 0,
      sha256: row.sha256!,
      open: () => createReadStream(row.store_path!),
      readAt: (position, length) => readFileAt(row.store_path!, position, length),
      details: JSON.parse(row.details) as Record<string, string>,
    };
    const storage = session.storage;
    const stage = (i: StoredImage) => storage.stageImage(i);
    const previous = inFlight.get(row.id) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(() => stage(image));
    inFlight.set(row.id, mine);
    try {
      await mine;
    } finally {
      if (inFlight.get(row.id) === mine) inFlight.delete(row.id);
    }
  }
}
