/**
 * VMware VM details (R30): rootDiskController, dataDiskController and nicAdapter, CloudStack's
 * keys and values. A clone inherits them from its template (read from the template's devices);
 * a blank VM gets the ones asked for. The same tables serve both directions.
 */
import { DriverError } from '../types.js';
import { asArray, asNumber, asObject, typed, type Typed, type VimValue } from './soap/index.js';

export interface VmwareDetails {
  rootDiskController?: string;
  dataDiskController?: string;
  nicAdapter?: string;
}

/** CloudStack's controller names ↔ vim25 device types. */
const CONTROLLERS: Record<string, string> = {
  lsilogic: 'VirtualLsiLogicController',
  lsisas1068: 'VirtualLsiLogicSASController',
  pvscsi: 'ParaVirtualSCSIController',
  buslogic: 'VirtualBusLogicController',
  ide: 'VirtualIDEController',
  sata: 'VirtualAHCIController',
  nvme: 'VirtualNVMEController',
};

const NICS: Record<string, string> = {
  E1000: 'VirtualE1000',
  E1000e: 'VirtualE1000e',
  PCNet32: 'VirtualPCNet32',
  Vmxnet2: 'VirtualVmxnet2',
  Vmxnet3: 'VirtualVmxnet3',
};

/** The vim25 types of the NICs Kiln knows. */
export const NIC_TYPES = new Set(Object.values(NICS));

/** What listDetailOptions offers for the VMware keys. */
export const DETAIL_OPTIONS: Record<keyof VmwareDetails, string[]> = {
  rootDiskController: ['osdefault', ...Object.keys(CONTROLLERS)],
  dataDiskController: ['osdefault', ...Object.keys(CONTROLLERS)],
  nicAdapter: Object.keys(NICS),
};

const byValue = (table: Record<string, string>, type: string | undefined) => Object.entries(table).find(([, t]) => t === type)?.[0];

/** CloudStack's name of a controller device type (pvscsi, lsisas1068, …), for listUnmanagedInstances. */
export const controllerName = (type: string | undefined): string | undefined => byValue(CONTROLLERS, type);
/** CloudStack's name of a NIC device type (Vmxnet3, E1000e, …). */
export const nicAdapterName = (type: string | undefined): string | undefined => byValue(NICS, type);

export function controllerDevice(name: string, key: number, busNumber: number): Typed {
  const type = CONTROLLERS[name === 'osdefault' ? 'lsilogic' : name];
  if (!type) throw new DriverError(`rootDiskController/dataDiskController: ${JSON.stringify(name)} is not one of ${DETAIL_OPTIONS.rootDiskController.join(', ')}`, 'invalid');
  const scsi = type !== 'VirtualIDEController' && type !== 'VirtualAHCIController' && type !== 'VirtualNVMEController';
  return typed(type, scsi ? { key, busNumber, sharedBus: 'noSharing' } : { key, busNumber });
}

export function nicDevice(name: string, key: number, backing: Typed): Typed {
  const type = NICS[name];
  if (!type) throw new DriverError(`nicAdapter: ${JSON.stringify(name)} is not one of ${DETAIL_OPTIONS.nicAdapter.join(', ')}`, 'invalid');
  return typed(type, { key, backing, addressType: 'generated' });
}

/** The details a VM (or template) has, from its config.hardware.device: the first disk's controller, the second's (else the first's), the first NIC's type. */
export function detailsOfDevices(devices: VimValue | undefined): VmwareDetails {
  const list = asArray(devices).map(asObject);
  const byKey = new Map(list.map((d) => [asNumber(d['key']), d]));
  const disks = list.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => (asNumber(a['key']) ?? 0) - (asNumber(b['key']) ?? 0));
  const controllerOf = (disk: (typeof list)[number] | undefined) => byValue(CONTROLLERS, byKey.get(asNumber(disk?.['controllerKey']))?.$type);
  const nic = list.find((d) => byValue(NICS, d.$type) !== undefined);
  const out: VmwareDetails = {};
  const root = controllerOf(disks[0]);
  if (root) out.rootDiskController = root;
  const data = controllerOf(disks[1]) ?? root;
  if (data) out.dataDiskController = data;
  const adapter = byValue(NICS, nic?.$type);
  if (adapter) out.nicAdapter = adapter;
  return out;
}
