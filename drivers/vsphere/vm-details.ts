/**
 * VMware VM details (R30): rootDiskController, dataDiskController and nicAdapter, CloudStack's
 * keys and values. A clone inherits them from its template (read from the template's devices);
 * a blank VM gets the ones asked for. The same tables serve both directions.
 */
import { DriverError } from '../types.js';
import { asArray, asNumber, asObject, asString, typed, type SoapObject, type Typed, type VimValue } from './soap/index.js';

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

type Device = ReturnType<typeof asObject>;

/**
 * An edited device's deviceInfo as the server has it. vCenter keeps it when left out; vcsim
 * 0.24.2 dereferences it on every edit (a nil one ends the connection), so edits carry it.
 */
export function deviceInfoOf(device: Device): SoapObject {
  const info = asObject(device['deviceInfo']);
  return { label: asString(info['label']) ?? '', summary: asString(info['summary']) ?? '' };
}

/** Controllers of one family share its bus numbers (a VM has SCSI buses 0-3, SATA 0-3, NVMe 0-3) and give its disks these units. */
const FAMILIES: { types: RegExp; units: number[] }[] = [
  // Unit 7 of a SCSI controller is the controller itself.
  { types: /^(VirtualLsiLogicController|VirtualLsiLogicSASController|ParaVirtualSCSIController|VirtualBusLogicController)$/, units: [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15] },
  { types: /^VirtualAHCIController$/, units: Array.from({ length: 30 }, (_, i) => i) },
  { types: /^VirtualNVMEController$/, units: Array.from({ length: 15 }, (_, i) => i) },
  { types: /^VirtualIDEController$/, units: [0, 1] },
];
const familyOf = (type: string) => FAMILIES.find((f) => f.types.test(type))!;

function controllerType(name: string, param: string): string {
  const type = CONTROLLERS[name];
  if (!type) throw new DriverError(`${param}: ${JSON.stringify(name)} is not one of ${DETAIL_OPTIONS.rootDiskController.join(', ')}`, 'invalid');
  return type;
}

/**
 * Where a disk goes on a controller of NAME (CloudStack's name): a free unit of an existing one,
 * else a new controller of that type on its family's next free bus, as `add` (its device change,
 * with key NEWKEY, and the device as the VM will have it). IDE never gets a new controller.
 */
export function freeDiskSlot(devices: Device[], name: string, param: string, newKey: number): { controllerKey: number; unitNumber: number; add?: { change: SoapObject; device: Device } } {
  const type = controllerType(name, param);
  const family = familyOf(type);
  for (const c of devices.filter((x) => x.$type === type)) {
    const key = asNumber(c['key'])!;
    const used = new Set(devices.filter((d) => asNumber(d['controllerKey']) === key).map((d) => asNumber(d['unitNumber'])));
    const unit = family.units.find((u) => !used.has(u));
    if (unit !== undefined) return { controllerKey: key, unitNumber: unit };
  }
  const buses = new Set(devices.filter((c) => family.types.test(c.$type ?? '')).map((c) => asNumber(c['busNumber'])));
  const bus = [0, 1, 2, 3].find((b) => !buses.has(b));
  if (type === 'VirtualIDEController' || bus === undefined) throw new DriverError(`${param}: the VM has no free ${name} unit or bus for its disk`, 'unsupported');
  return {
    controllerKey: newKey,
    unitNumber: family.units[0]!,
    add: { change: { operation: 'add', device: controllerDevice(name, newKey, bus) }, device: { $type: type, key: newKey, busNumber: bus } as unknown as Device },
  };
}

/**
 * A deploy's own rootDiskController / dataDiskController (R30: given at deploy, they win over the
 * template's, which the clone inherits) as device changes on the clone: the disks that sit on
 * another controller type move to one of the wanted type (an existing one with a free unit, else
 * a new one on the family's next free bus; IDE only onto the VM's two IDE controllers), and a
 * controller the moves leave empty goes. `devices` comes back as the VM will have them, for
 * the CD-ROM changes that follow (they take free IDE units too). 'osdefault' keeps the template's.
 */
export function controllerChanges(devices: Device[], wanted: Pick<VmwareDetails, 'rootDiskController' | 'dataDiskController'>): { changes: SoapObject[]; devices: Device[] } {
  const changes: SoapObject[] = [];
  let after = [...devices];
  const disks = devices.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => (asNumber(a['key']) ?? 0) - (asNumber(b['key']) ?? 0));
  const groups = [
    { disks: disks.slice(0, 1), name: wanted.rootDiskController, param: 'rootDiskController' },
    { disks: disks.slice(1), name: wanted.dataDiskController, param: 'dataDiskController' },
  ];
  const controllerTypeOf = (d: Device) => after.find((c) => asNumber(c['key']) === asNumber(d['controllerKey']))?.$type;
  let nextKey = -101;
  const vacated = new Set<number | undefined>();
  for (const g of groups) {
    if (g.name === undefined || g.name === 'osdefault') continue;
    const type = controllerType(g.name, g.param);
    for (const disk of g.disks.filter((d) => controllerTypeOf(d) !== type)) {
      const { add, ...slot } = freeDiskSlot(after, g.name, g.param, nextKey);
      if (add) {
        nextKey--;
        changes.push(add.change);
        after.push(add.device);
      }
      const backing = asObject(disk['backing']);
      changes.push({
        operation: 'edit',
        device: typed('VirtualDisk', {
          key: asNumber(disk['key']),
          deviceInfo: deviceInfoOf(disk),
          backing: typed(backing.$type ?? 'VirtualDiskFlatVer2BackingInfo', { fileName: asString(backing['fileName']), diskMode: asString(backing['diskMode']) ?? 'persistent' }),
          ...slot,
          capacityInKB: asNumber(disk['capacityInKB']),
        }),
      });
      vacated.add(asNumber(disk['controllerKey']));
      after = after.map((d) => (d === disk ? ({ ...d, ...slot } as Device) : d));
    }
  }
  // A disk controller the moves left empty goes (never IDE: it holds the CD-ROMs).
  for (const c of devices.filter((d) => d.$type !== 'VirtualIDEController' && vacated.has(asNumber(d['key'])))) {
    const key = asNumber(c['key']);
    if (!after.some((d) => asNumber(d['controllerKey']) === key)) {
      changes.push({ operation: 'remove', device: typed(c.$type!, { key, deviceInfo: deviceInfoOf(c), busNumber: asNumber(c['busNumber']) }) });
      after = after.filter((d) => d !== c);
    }
  }
  return { changes, devices: after };
}
