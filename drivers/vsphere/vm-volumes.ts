/**
 * The vSphere volume facet: a data disk is a VirtualDisk added to or removed from the VM with
 * ReconfigVM_Task's deviceChange, on the VM's SCSI controller. Its file is `[datastore] NAME`,
 * NAME being Kiln's volume name (`<uuid>.vmdk`) in the datastore's root, so it outlives the VM it
 * was attached to: "add" with fileOperation "create" makes it (thin), "remove" without a
 * fileOperation detaches it and keeps the file, a later "add" without one attaches it again.
 * A powered-on VM takes the change live (vSphere hot-adds and hot-removes SCSI disks).
 *
 * Resizing edits the disk's capacity through the VM that holds it; vSphere grows disks only, so a
 * shrink is refused before anything is sent. A detached disk is resized as CloudStack's VMware
 * resource does it, through a worker VM: a VM with no CPU load or network is made on the host
 * around the disk's file (found on the host's datastores with the datastore browser), the disk is
 * grown by the same edit, taken out again (its file kept) and the worker destroyed. vcsim 0.24.2
 * has no VirtualDiskManager.ExtendVirtualDisk_Task, and the worker needs no other API than the
 * attached case. The worker is never destroyed while it holds the disk (Destroy_Task would delete
 * it); one a dead process left behind is emptied and destroyed by the next resize of that disk.
 */
import { DriverError, type Ref, type VolumeDisk, type VolumeFacet } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { mapped } from './errors.js';
import { asArray, asMoRef, asNumber, asObject, asString, isVimFault, MoRef, typed, vm as vim, waitForTask, type SoapObject } from './soap/index.js';
import { controllerDevice, freeDiskSlot } from './vm-details.js';
import { destroyVm, deviceInfoOf, placementOf, runTask, vmsNamed } from './vm-lifecycle.js';

type Device = ReturnType<typeof asObject>;

/** Kiln's volume names (`<uuid>.vmdk`): the only files deleteVolumeFiles may name. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const SCSI_CONTROLLERS = /^(VirtualLsiLogicController|VirtualLsiLogicSASController|ParaVirtualSCSIController|VirtualBusLogicController)$/;
/** Unit 7 of a SCSI controller is the controller itself. */
const SCSI_UNITS = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15];

/** The worker VM that resizes the detached disk NAME (a Kiln volume name). */
export const workerName = (name: string): string => `kiln-worker-${name.replace(/\.vmdk$/, '')}`;

/** HOST is the host whose session this facet is: a detached disk's worker VM runs there. */
export function vsphereVolumes(ep: VsphereEndpoint, vmOf: (ref: Ref) => MoRef, host: MoRef): VolumeFacet {
  const devicesOf = async (vm: MoRef): Promise<Device[]> => asArray((await ep.read(vm, ['config.hardware.device']))['config.hardware.device']).map(asObject);
  const labelOf = (vm: MoRef) => asString(ep.cache.get(vm)?.props['name']) ?? vm.value;

  /** The datastore of POOL (VsphereEndpoint.datastore; a name among those of the VM's host, else of HOST). */
  const poolStore = (vm: MoRef | undefined, pool: string) => {
    const on = (vm && asMoRef(ep.cache.get(vm)?.props['runtime.host'])) ?? host;
    return ep.datastore(pool, ep.refsOf(ep.cache.get(on)?.props['datastore']));
  };
  /** `[datastore] NAME`: the disk's own datastore (its pool), else the VM's first. */
  const fileOf = async (vm: MoRef | undefined, disk: VolumeDisk): Promise<string> => {
    if (!VOLUME_NAME.test(disk.name)) throw new DriverError(`unusable volume name ${JSON.stringify(disk.name)}`, 'invalid');
    let datastore = disk.pool ? asString(poolStore(vm, disk.pool).props['name']) : undefined;
    if (!datastore && vm) {
      const first = ep.refsOf((await ep.read(vm, ['datastore']))['datastore'])[0];
      datastore = first ? asString(ep.cache.get(first)?.props['name']) : undefined;
    }
    if (!datastore) throw new DriverError(`no datastore for volume ${disk.name}`, 'not-found');
    return `[${datastore}] ${disk.name}`;
  };
  /** The VM's disk with that file, else (a root disk, which lives in the VM's folder) the one of that device key. */
  const diskWith = (devices: Device[], file: string, ref?: Ref): Device | undefined => {
    const disks = devices.filter((d) => d.$type === 'VirtualDisk');
    return disks.find((d) => asString(asObject(d['backing'])['fileName']) === file) ?? (ref !== undefined ? disks.find((d) => String(asNumber(d['key'])) === ref) : undefined);
  };
  const reconfigure = (vm: MoRef, doing: string, ...changes: SoapObject[]) => mapped(`${doing} (${labelOf(vm)})`, () => runTask(() => vim.reconfigure(ep.client, vm, { deviceChange: changes })));
  /** A disk edited to KB (grow only), as vSphere takes it on the VM that holds it. */
  const grow = async (vm: MoRef, found: Device, disk: VolumeDisk, kb: number) => {
    const current = asNumber(found['capacityInKB']) ?? 0;
    if (kb < current) throw new DriverError(`vSphere cannot shrink disk ${disk.name} (${current} KB to ${kb} KB)`, 'unsupported');
    const backing = asObject(found['backing']);
    await reconfigure(vm, `resizing ${disk.name}`, {
      operation: 'edit',
      device: typed('VirtualDisk', { key: asNumber(found['key']), deviceInfo: deviceInfoOf(found), backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: asString(backing['fileName']), diskMode: asString(backing['diskMode']) ?? 'persistent' }), controllerKey: asNumber(found['controllerKey']), unitNumber: asNumber(found['unitNumber']), capacityInKB: kb }),
    });
  };
  /** Takes a disk out of a VM without touching its file. */
  const removeKeepingFile = (vm: MoRef, found: Device, name: string) => reconfigure(vm, `detaching ${name}`, {
    operation: 'remove',
    device: typed('VirtualDisk', { key: asNumber(found['key']), deviceInfo: deviceInfoOf(found), controllerKey: asNumber(found['controllerKey']), unitNumber: asNumber(found['unitNumber']), capacityInKB: asNumber(found['capacityInKB']) }),
  });
  /** Empties a worker VM of its disks (files kept) and destroys it. */
  const disposeWorker = async (worker: MoRef) => {
    for (const d of (await devicesOf(worker)).filter((x) => x.$type === 'VirtualDisk')) await removeKeepingFile(worker, d, asString(asObject(d['backing'])['fileName']) ?? 'a disk');
    await mapped(`destroying the worker VM ${labelOf(worker)}`, () => destroyVm(ep, worker));
  };

  /** `[datastore] NAME` of a detached disk: its pool's, else the datastore of HOST that has the file (HostDatastoreBrowser.SearchDatastore_Task). */
  const detachedFile = async (disk: VolumeDisk): Promise<string> => {
    if (!VOLUME_NAME.test(disk.name)) throw new DriverError(`unusable volume name ${JSON.stringify(disk.name)}`, 'invalid');
    if (disk.pool) return fileOf(undefined, disk);
    for (const ds of ep.refsOf(ep.cache.get(host)?.props['datastore'])) {
      const dsName = asString(ep.cache.get(ds)?.props['name']);
      const browser = asMoRef((await ep.read(ds, ['browser']))['browser']);
      if (!dsName || !browser) continue;
      const task = asMoRef(await mapped(`looking for ${disk.name} on datastore ${dsName}`, () => ep.client.call('SearchDatastore_Task', browser, { datastorePath: `[${dsName}]`, searchSpec: { matchPattern: [disk.name] } })));
      const found = task && asObject(await mapped(`looking for ${disk.name} on datastore ${dsName}`, () => waitForTask(ep.client, task)));
      if (found && asArray(found['file']).map(asObject).some((f) => asString(f['path']) === disk.name)) return `[${dsName}] ${disk.name}`;
    }
    throw new DriverError(`the file of volume ${disk.name} is on no datastore of host ${labelOf(host)}`, 'not-found');
  };

  /** Resizes a disk no VM holds, through a worker VM on HOST (see the module comment). */
  const resizeDetached = async (disk: VolumeDisk, kb: number) => {
    ep.assertReachable(`resizing volume ${disk.name}`);
    const file = await detachedFile(disk);
    const name = workerName(disk.name);
    const where = placementOf(ep, host);
    // One a dead process left (asked of the server too: the stream may not have brought it).
    for (const left of await mapped(`looking for a worker VM ${name}`, () => vmsNamed(ep, where.folder, name))) {
      if (!ep.cache.get(left.ref)) await mapped(`reading the worker VM ${name}`, () => ep.cache.admit(left.ref));
      await disposeWorker(left.ref);
    }
    const dsName = /^\[([^\]]+)\]/.exec(file)![1]!;
    // Element order of VirtualMachineConfigSpec: name, guestId, files, numCPUs, memoryMB, deviceChange.
    const config = {
      name, guestId: 'otherGuest64', files: { vmPathName: `[${dsName}]` }, numCPUs: 1, memoryMB: 64,
      deviceChange: [
        { operation: 'add', device: controllerDevice('lsilogic', -100, 0) },
        // No fileOperation: the disk is the volume's file, at the size Kiln knows it has.
        { operation: 'add', device: typed('VirtualDisk', { key: -200, backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: file, diskMode: 'persistent' }), controllerKey: -100, unitNumber: 0, capacityInKB: Math.ceil(disk.sizeBytes / 1024) }) },
      ],
    };
    const worker = asMoRef(await mapped(`creating the worker VM for ${disk.name}`, () => runTask(() => vim.createVm(ep.client, where.folder, config, where.pool, host))));
    if (!worker) throw new DriverError(`CreateVM_Task of the worker VM for ${disk.name} returned no VM`, 'failed');
    await mapped(`reading the worker VM for ${disk.name}`, () => ep.cache.admit(worker));
    let failure: unknown;
    try {
      const held = diskWith(await devicesOf(worker), file);
      if (!held) throw new DriverError(`the worker VM for ${disk.name} did not take its disk`, 'failed');
      await grow(worker, held, disk, kb);
    } catch (e) {
      failure = e;
    }
    // Always emptied and destroyed; a failure here (the disk still in the worker) is reported, never a destroy over the disk.
    await disposeWorker(worker);
    if (failure) throw failure;
  };

  return {
    async attach(vmRef, disk, options) {
      const vm = vmOf(vmRef);
      ep.assertReachable(`attaching a disk to ${labelOf(vm)}`);
      const devices = await devicesOf(vm);
      const file = await fileOf(vm, disk);
      if (diskWith(devices, file)) throw new DriverError(`${labelOf(vm)} already has disk ${disk.name}`, 'invalid');
      // R30: on a controller of the VM's dataDiskController type (its own or its template's,
      // added when the VM has none with a free unit); without one, on its first SCSI controller.
      const wanted = options.details?.['dataDiskController'];
      let slot: { controllerKey: number; unitNumber: number; add?: { change: SoapObject } };
      if (wanted !== undefined && wanted !== 'osdefault') {
        slot = freeDiskSlot(devices, wanted, 'dataDiskController', -401);
      } else {
        const controller = devices.find((d) => SCSI_CONTROLLERS.test(d.$type ?? ''));
        if (!controller) throw new DriverError(`${labelOf(vm)} has no SCSI controller for a data disk`, 'unsupported');
        const controllerKey = asNumber(controller['key'])!;
        const used = new Set(devices.filter((d) => asNumber(d['controllerKey']) === controllerKey).map((d) => asNumber(d['unitNumber'])));
        const unitNumber = SCSI_UNITS.find((u) => !used.has(u));
        if (unitNumber === undefined) throw new DriverError(`the SCSI controller of ${labelOf(vm)} has no free unit for another disk`, 'insufficient-capacity');
        slot = { controllerKey, unitNumber };
      }
      const device = typed('VirtualDisk', {
        key: -400,
        // The datastore by moref too: the "[name]" of the file is a name of the VM's datacenter only.
        backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: file, datastore: disk.pool ? poolStore(vm, disk.pool).ref : undefined, diskMode: 'persistent', thinProvisioned: true }),
        controllerKey: slot.controllerKey,
        unitNumber: slot.unitNumber,
        capacityInKB: Math.ceil(disk.sizeBytes / 1024),
      });
      await reconfigure(vm, `attaching ${disk.name}`, ...(slot.add ? [slot.add.change] : []), { operation: 'add', ...(options.create ? { fileOperation: 'create' } : {}), device });
      const added = diskWith(await devicesOf(vm), file);
      return added ? { ref: String(asNumber(added['key'])) } : {};
    },

    async detach(vmRef, disk) {
      const vm = vmOf(vmRef);
      ep.assertReachable(`detaching a disk from ${labelOf(vm)}`);
      const found = diskWith(await devicesOf(vm), await fileOf(vm, disk));
      if (!found) throw new DriverError(`${labelOf(vm)} has no disk ${disk.name}`, 'not-found');
      // No fileOperation: the disk leaves the VM, its file stays on the datastore.
      await removeKeepingFile(vm, found, disk.name);
    },

    async resize(disk, sizeBytes, options) {
      const kb = Math.ceil(sizeBytes / 1024);
      if (options.vm === undefined) {
        if (kb < Math.ceil(disk.sizeBytes / 1024)) throw new DriverError(`vSphere cannot shrink disk ${disk.name} (${Math.ceil(disk.sizeBytes / 1024)} KB to ${kb} KB)`, 'unsupported');
        return resizeDetached(disk, kb);
      }
      const vm = vmOf(options.vm);
      ep.assertReachable(`resizing a disk of ${labelOf(vm)}`);
      const found = diskWith(await devicesOf(vm), await fileOf(vm, disk), disk.ref);
      if (!found) throw new DriverError(`${labelOf(vm)} has no disk ${disk.name}`, 'not-found');
      await grow(vm, found, disk, kb);
    },
  };
}

/**
 * Deletes detached data disks (deleteDisks): the file `[datastore] NAME` of each Kiln volume name,
 * on whichever datastore has it (FileManager.DeleteDatastoreFile_Task); a file that is not there
 * counts as deleted, as the disks of a VM that Destroy_Task removed are gone already.
 */
export async function deleteVolumeFiles(ep: VsphereEndpoint, names: string[]): Promise<void> {
  const wanted = names.filter((n) => VOLUME_NAME.test(n));
  if (wanted.length === 0) return;
  await deleteDatastoreFiles(ep, wanted, 'deleting disks');
}

/**
 * Deletes each of PATHS (relative to a datastore's root, Kiln's names only) on every datastore
 * that has it; how many files were there. Shared by deleteDisks and the removal of staged images.
 */
export async function deleteDatastoreFiles(ep: VsphereEndpoint, paths: string[], what: string): Promise<number> {
  ep.assertReachable(what);
  const fileManager = asMoRef(ep.client.serviceContent.raw['fileManager']);
  if (!fileManager) throw new DriverError(`this vCenter has no FileManager (${what})`, 'unsupported');
  const datacenter = ep.cache.datacenters()[0]?.ref;
  let deleted = 0;
  for (const path of paths) {
    for (const ds of ep.cache.ofType('Datastore')) {
      const file = `[${asString(ds.props['name'])}] ${path}`;
      await mapped(`deleting ${file}`, async () => {
        try {
          const task = asMoRef(await ep.client.call('DeleteDatastoreFile_Task', fileManager, { name: file, datacenter }));
          if (task) await waitForTask(ep.client, task);
          deleted++;
        } catch (e) {
          if (!isVimFault(e) || (e.type !== 'FileNotFound' && e.type !== 'NotFound')) throw e;
        }
      });
    }
  }
  return deleted;
}
