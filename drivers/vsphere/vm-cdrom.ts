/**
 * A VMware VM's CD-ROM drives, by position as KVM has them (hdc, hdd): the first drive holds the
 * VM's ISO or nothing, the second its config drive. attachIso and detachIso change the first
 * drive only, so the config drive is never taken out by an ISO; every define (deploy and start)
 * lays the drives out so, and puts the CD-ROM first in the boot order while an ISO is in (a blank
 * VM installs from it; the empty disk after it boots once the ISO is detached).
 *
 * Drives are told apart by controller and unit, never by their place in config.hardware.device:
 * vcsim moves an edited device to the end of that list, and vCenter promises no order either.
 */
import { DriverError } from '../types.js';
import { asArray, asNumber, asObject, asString, typed, type SoapObject, type VimObject } from './soap/index.js';
import { deviceInfoOf } from './vm-lifecycle.js';

type Device = VimObject;

/** The VM's CD-ROM drives in drive order (controller key, then unit). */
export function cdromDrives(devices: Device[]): Device[] {
  const at = (d: Device) => [asNumber(d['controllerKey']) ?? 0, asNumber(d['unitNumber']) ?? 0] as const;
  return devices.filter((d) => d.$type === 'VirtualCdrom').sort((a, b) => at(a)[0] - at(b)[0] || at(a)[1] - at(b)[1]);
}

/** The datastore path in a drive, if it holds an ISO. */
export function isoIn(drive: Device | undefined): string | undefined {
  const backing = asObject(drive?.['backing']);
  return backing.$type === 'VirtualCdromIsoBackingInfo' ? asString(backing['fileName']) : undefined;
}

/** A drive holding ISO (a datastore path), or empty; `live` connects (or disconnects) it in the running VM now. */
function driveDevice(drive: { key: number; controllerKey: number; unitNumber: number; deviceInfo?: SoapObject }, iso: string | undefined, live: boolean): SoapObject {
  return {
    ...drive,
    // vcsim 0.24.2 dereferences deviceInfo on every edit; a new device gets its own.
    backing: iso ? typed('VirtualCdromIsoBackingInfo', { fileName: iso }) : typed('VirtualCdromRemotePassthroughBackingInfo', { deviceName: '', exclusive: false }),
    connectable: { startConnected: iso !== undefined, allowGuestControl: true, connected: live && iso !== undefined },
  };
}

const slotOf = (d: Device) => ({ key: asNumber(d['key'])!, deviceInfo: deviceInfoOf(d), controllerKey: asNumber(d['controllerKey'])!, unitNumber: asNumber(d['unitNumber'])! });

/**
 * The device changes that give the VM's drives these images, by position ([ISO, config drive];
 * undefined leaves that drive empty): a drive that holds something else is edited, a missing one
 * added on a free IDE unit (vSphere gives every VM two IDE controllers). Nothing when they match.
 */
export function driveChanges(devices: Device[], images: (string | undefined)[], live: boolean): SoapObject[] {
  const drives = cdromDrives(devices);
  const taken = new Set(devices.map((d) => `${asNumber(d['controllerKey'])}:${asNumber(d['unitNumber'])}`));
  const free = devices
    .filter((d) => d.$type === 'VirtualIDEController')
    .sort((a, b) => (asNumber(a['busNumber']) ?? 0) - (asNumber(b['busNumber']) ?? 0))
    .flatMap((c) => [0, 1].map((unitNumber) => ({ controllerKey: asNumber(c['key'])!, unitNumber })))
    .filter((s) => !taken.has(`${s.controllerKey}:${s.unitNumber}`));
  // Every drive up to the last image: an empty first drive is made beside a config drive, for a later attachIso.
  const last = images.reduce<number>((n, image, i) => (image !== undefined ? i + 1 : n), 0);
  const out: SoapObject[] = [];
  for (let i = 0; i < Math.max(drives.length, last); i++) {
    const image = images[i];
    const drive = drives[i];
    if (drive) {
      if (isoIn(drive) !== image) out.push({ operation: 'edit', device: typed('VirtualCdrom', driveDevice(slotOf(drive), image, live)) });
      continue;
    }
    if (live) throw new DriverError('the running VM has no CD-ROM drive for it (vSphere adds IDE drives only to a stopped VM); stop and start it so Kiln gives it one', 'unsupported');
    const slot = free.shift();
    if (!slot) throw new DriverError('the VM has no free IDE unit for another CD-ROM drive', 'unsupported');
    out.push({ operation: 'add', device: typed('VirtualCdrom', driveDevice({ key: -210 - i, ...slot }, image, false)) });
  }
  return out;
}

/** The root disk: the VirtualDisk on the lowest controller key and unit. */
function rootDiskKey(devices: Device[]): number | undefined {
  const disks = devices.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => (asNumber(a['controllerKey']) ?? 0) - (asNumber(b['controllerKey']) ?? 0) || (asNumber(a['unitNumber']) ?? 0) - (asNumber(b['unitNumber']) ?? 0));
  return disks[0] ? asNumber(disks[0]['key']) : undefined;
}

/**
 * The boot order for a VM with or without an ISO in its first drive (as KVM's: cdrom then hd, or
 * hd): undefined when config.bootOptions already has it.
 */
export function bootOrderFor(devices: Device[], bootOptions: unknown, iso: boolean): SoapObject | undefined {
  const root = rootDiskKey(devices);
  const order = [...(iso ? [{ type: 'VirtualMachineBootOptionsBootableCdromDevice' }] : []), ...(root !== undefined ? [{ type: 'VirtualMachineBootOptionsBootableDiskDevice', deviceKey: root }] : [])];
  const current = asArray(asObject(bootOptions as VimObject)['bootOrder']).map(asObject).map((b) => ({ type: b.$type, deviceKey: asNumber(b['deviceKey']) }));
  if (current.length === order.length && current.every((c, i) => c.type === order[i]!.type && (c.deviceKey ?? undefined) === (order[i] as { deviceKey?: number }).deviceKey)) return undefined;
  return { bootOrder: order.map((o) => typed(o.type, 'deviceKey' in o ? { deviceKey: o.deviceKey } : {})) };
}
