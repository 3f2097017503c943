/**
 * Kiln's images (downloaded templates, ISOs, config drives) in a pool: StorageFacet.stageImage.
 * xapi has no file store a client writes into; an image becomes a VDI:
 *
 * 1. VDI.create on the pool's default SR (shared, so every host of the pool sees the one copy),
 *    named as Kiln named the image (StoredImage.name), sized to the image's virtual size;
 * 2. PUT /import_raw_vdi?vdi=REF&format=raw|vhd (xen-api import_raw_vdi.ml) with the bytes (a
 *    VDI on a member's local SR is filled by that member, xapi's 302 followed: sr-upload.ts): a
 *    dynamic VHD (the "conectix" cookie at offset 0) goes as vhd, anything else as raw; QCOW2 is
 *    not a format xapi imports, so a QCOW2 image goes as the raw disk it holds (converted as it
 *    streams) and a QCOW2 header Kiln cannot convert is refused before anything is made;
 * 3. the SHA-256 of the image goes into the VDI's other_config, which marks it complete.
 *
 * Once per pool: a complete VDI of that name and digest is reused by every host and every deploy;
 * a half-made one (a crash between the steps) is destroyed and made again. VMs never use the image
 * VDI itself: a root disk is a VDI.copy of it, an ISO is inserted into a CD drive read-only.
 */
import type { Readable } from 'node:stream';
import { qcow2AsRaw } from '../common/qcow2.js';
import { DriverError, type OperationOptions, type StagedImageName, type StoredImage } from '../types.js';
import { mapped } from './errors.js';
import { checkXapiText } from './names.js';
import type { XenPool } from './pool.js';
import { srHasFeature } from './sr-features.js';
import { uploadToSr } from './sr-upload.js';
import { isXapiError } from './xapi/errors.js';
import { isNullRef, type VdiRecord, type XRef } from './xapi/records.js';

/** other_config key of an image VDI: the SHA-256 of the complete image (absent while it is being filled). */
export const IMAGE_SHA_KEY = 'kiln_image_sha256';
/** other_config key every image VDI carries from its creation, so a half-made one is known as Kiln's. */
export const IMAGE_KEY = 'kiln_image';

/** One staging of a name at a time per pool: hosts of a pool share its SRs. */
const inFlight = new WeakMap<XenPool, Map<string, Promise<XRef>>>();

/** The first bytes of a stream (at most N), without consuming a second one. */
async function head(open: () => Readable, n: number): Promise<Buffer> {
  const stream = open();
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of stream) {
      chunks.push(c as Buffer);
      got += (c as Buffer).length;
      if (got >= n) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/**
 * How the bytes go to import_raw_vdi: the format, the disk size they make, and the bytes with
 * their length. xapi imports RAW and VHD only, so a QCOW2 image goes as the raw guest disk it
 * holds, converted while it streams (drivers/common/qcow2.ts).
 */
export async function importFormat(image: StoredImage): Promise<{ format: 'raw' | 'vhd'; virtualSize: number; open(): Readable; length: number }> {
  if (image.format === 'qcow2') {
    const disk = await qcow2AsRaw(image);
    return { format: 'raw', virtualSize: disk.sizeBytes, open: disk.open, length: disk.sizeBytes };
  }
  const bytes = { open: image.open, length: image.sizeBytes };
  const first = await head(image.open, 512);
  // A dynamic VHD starts with a copy of its footer: "conectix", the disk's current size at offset 48.
  if (first.length === 512 && first.toString('latin1', 0, 8) === 'conectix') return { format: 'vhd', virtualSize: Number(first.readBigUInt64BE(48)), ...bytes };
  return { format: 'raw', virtualSize: image.sizeBytes, ...bytes };
}

/** The SR Kiln's images and new disks go on: the pool's default SR, else a shared one (every host must see it). */
export function imageSr(pool: XenPool, bytes: number, named?: string): XRef {
  const srs = pool.inventory.all('SR').filter(([, s]) => s.content_type !== 'iso' && s.type !== 'iso' && s.type !== 'udev');
  const free = (s: (typeof srs)[number][1]) => Number(s.physical_size ?? 0) - Number(s.physical_utilisation ?? 0);
  if (named) {
    const chosen = srs.find(([ref, s]) => ref === named || s.name_label === named || s.uuid === named);
    if (!chosen) throw new DriverError(`the pool has no storage repository ${JSON.stringify(named)}`, 'not-found');
    return chosen[0];
  }
  const fallback = pool.poolRecord()?.default_SR;
  const ordered = [...srs.filter(([ref]) => ref === fallback), ...srs.filter(([ref, s]) => ref !== fallback && s.shared)];
  const fits = ordered.find(([, s]) => free(s) >= bytes);
  if (!fits) throw new DriverError(`the pool has no shared storage repository with ${Math.ceil(bytes / 2 ** 20)} MiB free (its default SR first)`, 'insufficient-capacity');
  return fits[0];
}

/** A plain name Kiln chose (never a user's): letters, digits, . _ -. */
function checkImageName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new DriverError(`image name ${JSON.stringify(name)} is not a plain file name`, 'invalid');
  return checkXapiText(name, 'image name');
}

/** The complete image VDI named NAME (any digest when none is given), else undefined; half-made ones of Kiln's are destroyed. */
export async function findImageVdi(pool: XenPool, name: string, sha256?: string): Promise<XRef | undefined> {
  let found: XRef | undefined;
  for (const ref of await pool.client.call('VDI.get_by_name_label', name)) {
    const r = (await pool.client.getRecord('VDI', ref).catch(() => undefined)) as VdiRecord | undefined;
    if (!r || r.is_a_snapshot || r.other_config?.[IMAGE_KEY] === undefined) continue;
    const sha = r.other_config[IMAGE_SHA_KEY];
    if (sha && (!sha256 || sha === sha256)) {
      found ??= ref;
      continue;
    }
    // Half-made (no digest), or an older image under this name that nothing uses: it goes.
    if (!sha || (r.VBDs ?? []).length === 0) await pool.client.call('VDI.destroy', ref).catch(() => undefined);
  }
  return found;
}

/** StorageFacet.stageImage: the pool's one VDI of IMAGE, made on first use (see the module comment). */
export async function stageImage(pool: XenPool, image: StoredImage, opts: OperationOptions = {}): Promise<XRef> {
  pool.assertReachable(`staging ${image.name}`);
  const name = checkImageName(image.name);
  const running = inFlight.get(pool) ?? new Map<string, Promise<XRef>>();
  inFlight.set(pool, running);
  const previous = running.get(name);
  const mine = (previous ?? Promise.resolve(undefined)).catch(() => undefined).then(() => upload(pool, name, image, opts));
  running.set(name, mine);
  try {
    return await mine;
  } finally {
    if (running.get(name) === mine) running.delete(name);
  }
}

/**
 * The VDI an image is imported into. An ISO goes into the pool's ISO library when it has one Kiln
 * can write (isoLibrary): xapi's ISO SR driver (xapi-project/sm ISOSR.py) makes a VDI.create a file
 * of the library named by sm_config `path`, so the ISO is one file there under Kiln's name, listed
 * with the admin's own ISOs and inserted from there into any VM's CD drive. If the library refuses
 * (its SM error: a read-only share, a file of that name already there), or for templates and
 * config drives, the VDI goes on the pool's default SR, which a read-only CD drive can hold too.
 */
async function createImageVdi(pool: XenPool, name: string, image: StoredImage, virtualSize: number): Promise<{ vdi: XRef; sr: XRef }> {
  const record = (sr: XRef, smConfig: Record<string, string>) => ({
    name_label: name, name_description: `Kiln image ${image.sha256.slice(0, 12)}`, SR: sr, virtual_size: virtualSize, type: 'user' as const,
    sharable: false, read_only: false, other_config: { [IMAGE_KEY]: image.format }, xenstore_data: {}, sm_config: smConfig, tags: [],
  });
  const library = image.format === 'iso' ? isoLibrary(pool, name, virtualSize) : undefined;
  if (library) {
    try {
      return { vdi: await pool.client.call('VDI.create', record(library, { path: name })), sr: library };
    } catch (e) {
      if (!(isXapiError(e) && e.code.startsWith('SR_BACKEND_FAILURE'))) throw e;
    }
  }
  const sr = imageSr(pool, virtualSize);
  return { vdi: await pool.client.call('VDI.create', record(sr, {})), sr };
}

/**
 * The pool's ISO library for an ISO named NAME of BYTES: a shared ISO SR (content_type iso) whose
 * SM driver makes VDIs (VDI_CREATE; not the read-only tools SR) with room for it, when NAME is a
 * file name ISOSR takes for sm_config path ([a-z0-9.-]+ then .iso or .img, from its start).
 */
export function isoLibrary(pool: XenPool, name: string, bytes: number): XRef | undefined {
  if (!/^[a-z0-9.-]+\.(iso|img)/i.test(name)) return undefined;
  return pool.inventory.all('SR').find(([ref, s]) => s.content_type === 'iso' && s.shared && s.is_tools_sr !== true && srHasFeature(pool, ref, 'VDI_CREATE')
    && Number(s.physical_size ?? 0) - Number(s.physical_utilisation ?? 0) >= bytes)?.[0];
}

async function upload(pool: XenPool, name: string, image: StoredImage, opts: OperationOptions): Promise<XRef> {
  const kept = await mapped(`looking for image ${name} in the pool`, () => findImageVdi(pool, name, image.sha256));
  if (kept) return kept;
  if (!image.sizeBytes) throw new DriverError(`${name}: the image's size is unknown; it cannot be sent to xapi (import_raw_vdi needs its length)`, 'invalid');
  const { format, virtualSize, open, length } = await importFormat(image);
  let vdi: XRef | undefined;
  try {
    const created = await mapped(`creating the VDI of image ${name}`, () => createImageVdi(pool, name, image, virtualSize));
    vdi = created.vdi;
    const made = vdi;
    // A member's local SR (the pool's default SR there) is filled by that member: xapi redirects the PUT (sr-upload.ts).
    await mapped(`importing image ${name} (${format})`, () => uploadToSr(pool, created.sr, '/import_raw_vdi', { vdi: made, format }, open, length, { ...opts, label: `Kiln: import ${name}` }));
    await mapped(`marking image ${name} complete`, () => pool.client.call('VDI.add_to_other_config', made, IMAGE_SHA_KEY, image.sha256));
    return made;
  } catch (e) {
    // Nothing half-made stays: the next staging starts again.
    if (vdi && !isNullRef(vdi)) await pool.client.call('VDI.destroy', vdi).catch(() => undefined);
    throw e;
  }
}

/**
 * StorageFacet.removeImage: the pool's VDIs of Kiln's image NAME (complete or half-made), once for
 * every host of the pool. xapi refuses a VDI still in a VBD (VDI_IN_USE), which the engine's
 * check should never let happen. True when one was there.
 */
export async function removeImage(pool: XenPool, image: StagedImageName): Promise<boolean> {
  pool.assertReachable(`removing ${image.name}`);
  const name = checkImageName(image.name);
  let removed = false;
  for (const ref of await mapped(`looking for image ${name} in the pool`, () => pool.client.call('VDI.get_by_name_label', name))) {
    const r = (await pool.client.getRecord('VDI', ref).catch(() => undefined)) as VdiRecord | undefined;
    if (!r || r.is_a_snapshot || r.other_config?.[IMAGE_KEY] === undefined) continue;
    await mapped(`destroying the VDI of image ${name}`, () => pool.client.call('VDI.destroy', ref));
    removed = true;
  }
  return removed;
}
