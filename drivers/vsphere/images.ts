/**
 * Templates from Kiln's image store on vSphere (StorageFacet.stageImage). vCenter clones VMs
 * only from what its own inventory holds, so a template Kiln downloaded reaches it in two steps:
 *
 * 1. The disk goes onto a datastore the host mounts, over the server's HTTP file service
 *    (PUT /folder/kiln-images/NAME-flat.vmdk?dcPath=DC&dsName=DS), as a monolithicFlat VMDK:
 *    the RAW bytes as its extent and a small text descriptor beside it. That is VMware's own
 *    on-disk layout, so a RAW image needs no conversion; a QCOW2 one is converted to its raw
 *    guest bytes as it streams.
 * 2. A VM is made around that disk (CreateVM_Task: the controller the template's
 *    rootDiskController names, the disk as it is) and marked as a vSphere template, named as
 *    Kiln named the image (StoredImage.name). Deploys clone it (CloneVM_Task).
 *
 * The template records the image's SHA-256 in its extraConfig, so a complete copy is kept and a
 * half-made one (a crash between the steps) is replaced. A failed staging leaves no VM behind.
 * ISOs (downloaded ones, a VM's config drive) are uploaded as files beside them, for a CD-ROM.
 */
import { Readable } from 'node:stream';
import { qcow2AsRaw } from '../common/qcow2.js';
import { DriverError, type OperationOptions, type StagedImageName, type StoredImage } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { mapped } from './errors.js';
import { MAX_VCENTER_NAME, toVcenterName } from './names.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, typed, vm as vim } from './soap/index.js';
import { controllerDevice } from './vm-details.js';
import { placementOf, runTask } from './vm-lifecycle.js';
import { deleteDatastoreFiles } from './vm-volumes.js';

/** The datastore folder Kiln's staged images live in. */
export const IMAGE_FOLDER = 'kiln-images';
/** extraConfig key of a staged template: the SHA-256 of the image it was made from. */
export const IMAGE_SHA_KEY = 'kiln.image.sha256';

/** A plain file name Kiln chose (never a user's): letters, digits, . _ -; the extension goes. */
function baseName(image: StagedImageName): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(image.name)) throw new DriverError(`image name ${JSON.stringify(image.name)} is not a plain file name`, 'invalid');
  return image.name.replace(/\.[A-Za-z0-9]+$/, '');
}

/** The text descriptor of a monolithicFlat VMDK whose extent is FLAT (SIZE bytes, 512-byte sectors). */
export function flatDescriptor(flat: string, sizeBytes: number): string {
  const sectors = Math.ceil(sizeBytes / 512);
  const cylinders = Math.max(1, Math.ceil(sectors / (255 * 63)));
  return [
    '# Disk DescriptorFile', 'version=1', 'CID=fffffffe', 'parentCID=ffffffff', 'createType="vmfs"', '',
    `RW ${sectors} VMFS "${flat}"`, '',
    'ddb.adapterType = "lsilogic"', `ddb.geometry.cylinders = "${cylinders}"`, 'ddb.geometry.heads = "255"', 'ddb.geometry.sectors = "63"', 'ddb.virtualHWVersion = "13"', '',
  ].join('\n');
}

/** The datastores HOST mounts and can reach now. */
const mountedDatastores = (ep: VsphereEndpoint, host: MoRef) =>
  ep.refsOf(ep.cache.get(host)?.props['datastore']).map((r) => ep.cache.get(r)).filter((d) => d !== undefined && d.props['summary.accessible'] !== false);

/** The datastore the image goes on: one the host mounts with room for it, shared ones first (every host of the cluster clones from it). */
function chooseDatastore(ep: VsphereEndpoint, host: MoRef, bytes: number): { ref: MoRef; name: string } {
  const fits = mountedDatastores(ep, host).filter((d) => (asNumber(d!.props['summary.freeSpace']) ?? 0) >= bytes);
  const best = fits.find((d) => d!.props['summary.multipleHostAccess'] === true) ?? fits[0];
  if (!best) throw new DriverError(`host ${host.value} mounts no datastore with ${Math.ceil(bytes / 2 ** 20)} MiB free for the template`, 'insufficient-capacity');
  return { ref: best.ref, name: asString(best.props['name']) ?? best.ref.value };
}

/** The staged template of IMAGE, when a complete one exists (same SHA-256). A half-made one is destroyed. */
async function existingTemplate(ep: VsphereEndpoint, vcName: string, sha256: string): Promise<MoRef | undefined> {
  for (const found of ep.cache.vmsNamed(vcName)) {
    const extra = asArray((await ep.read(found.ref, ['config.extraConfig']))['config.extraConfig']).map(asObject);
    const sha = asString(extra.find((kv) => asString(kv['key']) === IMAGE_SHA_KEY)?.['value']);
    if (found.props['config.template'] === true && sha === sha256) return found.ref;
    await runTask(() => vim.destroy(ep.client, found.ref)).catch(() => undefined);
    ep.cache.forget(found.ref);
  }
  return undefined;
}

/** ISOs uploaded through this endpoint: Kiln's name → datastore path and SHA-256 (a config drive is rebuilt, same name, on every start). */
const stagedIsos = new WeakMap<VsphereEndpoint, Map<string, { path: string; sha256: string }>>();

/** The datastore path ("[DS] kiln-images/NAME") an ISO staged under NAME has, for a VM's CD-ROM. */
export function stagedIsoPath(ep: VsphereEndpoint, name: string): string {
  const found = stagedIsos.get(ep)?.get(name);
  if (!found) throw new DriverError(`ISO ${name} has not been staged on a datastore of this vCenter`, 'not-found');
  return found.path;
}

/** The file service query of a host's datastore: dcPath and dsName. */
function fileQuery(ep: VsphereEndpoint, host: MoRef, ds: { name: string }): string {
  const dc = asString(ep.datacenterOf(ep.cache.get(asMoRef(ep.cache.get(host)?.props['parent']) ?? new MoRef('', ''))!)?.props['name']);
  if (!dc) throw new DriverError(`host ${host.value}: its datacenter is not in vCenter's inventory`, 'not-found');
  return `dcPath=${encodeURIComponent(dc)}&dsName=${encodeURIComponent(ds.name)}`;
}

/**
 * The sidecar of a staged ISO, `NAME.sha256`: "SHA256 SIZE" of the complete copy beside it. It is
 * emptied before an upload and written after it, so a copy a dead process left half-written never
 * passes for complete, and one a previous process finished is found after a restart.
 */
const sidecarOf = (name: string) => `${IMAGE_FOLDER}/${name}.sha256`;
const sidecarText = (image: StoredImage) => `${image.sha256} ${image.sizeBytes}\n`;

/** The datastore path of a complete copy of IMAGE already on a datastore HOST mounts (its sidecar says so and the size matches), if any. */
async function stagedCopy(ep: VsphereEndpoint, host: MoRef, image: StoredImage): Promise<string | undefined> {
  for (const ds of mountedDatastores(ep, host)) {
    const name = asString(ds!.props['name']) ?? ds!.ref.value;
    const query = fileQuery(ep, host, { name });
    const mark = await ep.client.transport.read(`/folder/${sidecarOf(image.name)}?${query}`, 'GET', 200);
    if (mark.status !== 200 || mark.body !== sidecarText(image)) continue;
    const file = await ep.client.transport.read(`/folder/${IMAGE_FOLDER}/${image.name}?${query}`, 'HEAD');
    if (file.status === 200 && file.size === image.sizeBytes) return `[${name}] ${IMAGE_FOLDER}/${image.name}`;
  }
  return undefined;
}

/**
 * An ISO (a downloaded one, or a VM's config drive) goes onto a datastore of HOST as
 * kiln-images/NAME, unless a complete copy of the same content is there already (this process
 * staged it, or an earlier one did: the sidecar), which is kept.
 */
async function stageIso(ep: VsphereEndpoint, host: MoRef, image: StoredImage, opts: OperationOptions): Promise<void> {
  baseName(image);
  const known = stagedIsos.get(ep) ?? new Map<string, { path: string; sha256: string }>();
  stagedIsos.set(ep, known);
  if (known.get(image.name)?.sha256 === image.sha256) return;
  const kept = await mapped(`looking for ${image.name} on the datastores`, () => stagedCopy(ep, host, image));
  if (kept) {
    known.set(image.name, { path: kept, sha256: image.sha256 });
    return;
  }
  const ds = chooseDatastore(ep, host, image.sizeBytes);
  const query = fileQuery(ep, host, ds);
  const sidecar = (text: string) => ep.client.transport.upload(`/folder/${sidecarOf(image.name)}?${query}`, Readable.from([Buffer.from(text)]), Buffer.byteLength(text), opts.signal);
  await mapped(`uploading ${image.name} to datastore ${ds.name}`, async () => {
    await sidecar('');
    await ep.client.transport.upload(`/folder/${IMAGE_FOLDER}/${image.name}?${query}`, image.open(), image.sizeBytes, opts.signal);
    await sidecar(sidecarText(image));
  });
  known.set(image.name, { path: `[${ds.name}] ${IMAGE_FOLDER}/${image.name}`, sha256: image.sha256 });
}

/** StorageFacet.stageImage: an ISO onto a datastore, a disk image as a vSphere template. */
export async function stageImage(ep: VsphereEndpoint, host: MoRef, image: StoredImage, opts: OperationOptions = {}): Promise<void> {
  ep.assertReachable(`staging ${image.name}`);
  if (image.format === 'iso') await stageIso(ep, host, image, opts);
  else await stageTemplate(ep, host, image, image.details, opts);
}

/**
 * The guest disk's bytes that become the flat VMDK's extent: a RAW image as it is; a QCOW2 one
 * converted while it streams (drivers/common/qcow2.ts), at its virtual size, since a flat extent
 * is the disk itself. Kiln's machine needs no qemu-img for that.
 */
async function guestDisk(image: StoredImage): Promise<{ sizeBytes: number; open(): Readable }> {
  if (image.format === 'raw') return { sizeBytes: image.sizeBytes, open: () => image.open() };
  if (image.format === 'qcow2') return qcow2AsRaw(image);
  throw new DriverError(`a ${image.format.toUpperCase()} image cannot be a vSphere template; register VMware templates as RAW or QCOW2 disk images (Kiln uploads them as a flat VMDK) or as OVA`, 'unsupported');
}

/** Makes IMAGE a vSphere template for clones on HOST (see the module comment); a complete one already there is kept. */
export async function stageTemplate(ep: VsphereEndpoint, host: MoRef, image: StoredImage, details: Record<string, string> = {}, opts: OperationOptions = {}): Promise<MoRef> {
  ep.assertReachable(`staging ${image.name}`);
  const disk = await guestDisk(image);
  const base = baseName(image);
  const vcName = toVcenterName(image.name);
  if (vcName.length > MAX_VCENTER_NAME) throw new DriverError(`template name ${image.name} is longer than vCenter's ${MAX_VCENTER_NAME} characters`, 'invalid');
  const kept = await existingTemplate(ep, vcName, image.sha256);
  if (kept) return kept;
  const where = placementOf(ep, host);
  const ds = chooseDatastore(ep, host, disk.sizeBytes);
  const query = fileQuery(ep, host, ds);
  const flat = `${base}-flat.vmdk`;
  await mapped(`uploading ${image.name} to datastore ${ds.name}`, async () => {
    await ep.client.transport.upload(`/folder/${IMAGE_FOLDER}/${flat}?${query}`, disk.open(), disk.sizeBytes, opts.signal);
    const descriptor = Buffer.from(flatDescriptor(flat, disk.sizeBytes));
    await ep.client.transport.upload(`/folder/${IMAGE_FOLDER}/${base}.vmdk?${query}`, Readable.from([descriptor]), descriptor.length, opts.signal);
  });
  const config = {
    name: vcName,
    guestId: 'otherGuest64',
    files: { vmPathName: `[${ds.name}]` },
    numCPUs: 1,
    memoryMB: 512,
    deviceChange: [
      { operation: 'add', device: controllerDevice(details['rootDiskController'] ?? 'lsilogic', -100, 0) },
      {
        // No fileOperation: the disk is the uploaded file, not a new one.
        operation: 'add',
        device: typed('VirtualDisk', {
          key: -200,
          backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: `[${ds.name}] ${IMAGE_FOLDER}/${base}.vmdk`, diskMode: 'persistent' }),
          controllerKey: -100, unitNumber: 0, capacityInKB: Math.ceil(disk.sizeBytes / 1024),
        }),
      },
    ],
    extraConfig: [{ key: IMAGE_SHA_KEY, value: typed('xsd:string', image.sha256) }],
  };
  let made: MoRef | undefined;
  try {
    made = asMoRef(await mapped(`creating template ${image.name}`, () => runTask(() => vim.createVm(ep.client, where.folder, config, where.pool, host), opts)));
    if (!made) throw new DriverError(`CreateVM_Task of template ${image.name} returned no VM`, 'failed');
    const ref = made;
    await mapped(`marking ${image.name} as a template`, () => vim.markAsTemplate(ep.client, ref));
    await mapped(`reading ${image.name}`, () => ep.cache.admit(ref));
    return ref;
  } catch (e) {
    if (made) {
      const orphan = made;
      await runTask(() => vim.destroy(ep.client, orphan)).catch(() => undefined);
      ep.cache.forget(orphan);
    }
    throw e;
  }
}

/**
 * StorageFacet.removeImage: a staged template's vSphere template (Destroy_Task) and its flat VMDK
 * under kiln-images/, or a staged ISO and its sidecar, on every datastore of the vCenter that has
 * them. True when anything was there.
 */
export async function removeStagedImage(ep: VsphereEndpoint, image: StagedImageName): Promise<boolean> {
  ep.assertReachable(`removing ${image.name}`);
  const base = baseName(image);
  if (image.format === 'iso') {
    stagedIsos.get(ep)?.delete(image.name);
    return (await deleteDatastoreFiles(ep, [`${IMAGE_FOLDER}/${image.name}`, sidecarOf(image.name)], `removing ${image.name}`)) > 0;
  }
  let removed = 0;
  for (const found of ep.cache.vmsNamed(toVcenterName(image.name))) {
    // Only the template Kiln made under this name; a VM someone else named so is not Kiln's to destroy.
    if (found.props['config.template'] !== true) continue;
    await mapped(`destroying template ${image.name}`, () => runTask(() => vim.destroy(ep.client, found.ref)));
    ep.cache.forget(found.ref);
    removed++;
  }
  // Destroy_Task takes the disk with the template on vCenter; whatever is left of the upload goes too.
  removed += await deleteDatastoreFiles(ep, [`${IMAGE_FOLDER}/${base}.vmdk`, `${IMAGE_FOLDER}/${base}-flat.vmdk`], `removing ${image.name}`);
  return removed > 0;
}
