/**
 * Which bus and controller a KVM disk sits on, in CloudStack's words: the VM details
 * rootDiskController and dataDiskController (virtio, scsi, sata, ide; "scsi" is a virtio-scsi
 * controller, as CloudStack's KVM agent defines it) and nicAdapter (the NIC model). One table
 * serves listDetailOptions, the define (which honours the details) and the import rules (a VM
 * copied in from a host Kiln does not manage keeps its controllers as these details).
 *
 * A disk's ref on KVM is its target in the domain (vda, sdb, hdb): a define that is given one
 * keeps it, so a copied VM's disks keep their units. The unit Kiln reports (InstanceInfo
 * controllerUnit) is the target's index on its bus (sda 0, sdb 1, hdc 2), which is what libvirt
 * derives each disk's drive address from.
 */
import { DriverError, type DiskBus } from '../types.js';
import type { ParsedDisk, ParsedDomain } from './domain-xml.js';

const BUSES: readonly DiskBus[] = ['virtio', 'scsi', 'sata', 'ide'];

/** The VM details the KVM driver honours, and their values (HypervisorDriver.detailOptions). */
export const KVM_DETAIL_OPTIONS: Record<string, string[]> = {
  rootDiskController: [...BUSES],
  dataDiskController: [...BUSES],
  nicAdapter: ['virtio', 'e1000', 'e1000e', 'rtl8139'],
};

/** The SCSI controller model Kiln defines, and the only one it calls plain "scsi". */
export const SCSI_MODEL = 'virtio-scsi';

/** Target name prefix per bus: vda…, sda… (SCSI and SATA share it), hda…. */
export const TARGET_PREFIX: Record<DiskBus, string> = { virtio: 'vd', scsi: 'sd', sata: 'sd', ide: 'hd' };

/** The bus the details give the root disk (ROOT) or a data disk; undefined: none given ("osdefault" too). */
export function detailBus(details: Record<string, string> | undefined, root: boolean): DiskBus | undefined {
  const key = root ? 'rootDiskController' : 'dataDiskController';
  const value = details?.[key];
  if (value === undefined || value === '' || value === 'osdefault') return undefined;
  if (!(BUSES as readonly string[]).includes(value)) throw new DriverError(`${key}: ${JSON.stringify(value)} is not one of ${KVM_DETAIL_OPTIONS[key]!.join(', ')} on KVM`, 'invalid', { param: 'details' });
  return value as DiskBus;
}

/** The index a target name stands for on its bus (vda 0, sdb 1, hdaa 26), or undefined for another shape. */
export function targetIndex(target: string): number | undefined {
  const m = /^(?:vd|sd|hd|xvd)([a-z]{1,3})$/.exec(target);
  if (!m) return undefined;
  let index = 0;
  for (const ch of m[1]!) index = index * 26 + (ch.charCodeAt(0) - 96);
  return index - 1;
}

/** A kept target (a disk's ref) when it fits BUS: the same prefix, a plain name. */
export function keptTarget(ref: string | undefined, bus: DiskBus): string | undefined {
  return ref !== undefined && ref.startsWith(TARGET_PREFIX[bus]) && targetIndex(ref) !== undefined ? ref : undefined;
}

/**
 * The controller a disk is on, as listUnmanagedInstances shows it: its bus, except that a SCSI
 * disk on a controller other than virtio-scsi is named by that controller's model (lsilogic,
 * megasas, …), which is not what Kiln defines.
 */
export function controllerOf(disk: ParsedDisk, domain: Pick<ParsedDomain, 'controllers'>): string | undefined {
  if (disk.bus !== 'scsi') return disk.bus;
  const index = disk.address?.controller ?? 0;
  const model = domain.controllers.find((c) => c.type === 'scsi' && (c.index ?? 0) === index)?.model;
  return model === undefined || model === SCSI_MODEL ? 'scsi' : model;
}
