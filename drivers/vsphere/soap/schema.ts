/**
 * The little of the vim25 schema the decoder needs: which fields repeat (so one element still
 * decodes as an array) and the types of fields the server writes without an xsi:type (so a
 * nested object and a number are decoded as such). Values in anyType slots (property values,
 * task results) carry their own xsi:type and need nothing here. Add the types a caller reads.
 */

type FieldTable = Record<string, Record<string, string>>;

/** Field type by owning type; a trailing [] marks a repeated field. xsd:* are scalars. */
export const FIELDS: FieldTable = {
  RetrieveResult: { token: 'xsd:string', objects: 'ObjectContent[]' },
  ObjectContent: { obj: 'ManagedObjectReference', propSet: 'DynamicProperty[]', missingSet: 'MissingProperty[]' },
  DynamicProperty: { name: 'xsd:string' },
  MissingProperty: { path: 'xsd:string', fault: 'LocalizedMethodFault' },
  UpdateSet: { version: 'xsd:string', filterSet: 'PropertyFilterUpdate[]', truncated: 'xsd:boolean' },
  PropertyFilterUpdate: { filter: 'ManagedObjectReference', objectSet: 'ObjectUpdate[]', missingSet: 'MissingObject[]' },
  ObjectUpdate: { kind: 'xsd:string', obj: 'ManagedObjectReference', changeSet: 'PropertyChange[]', missingSet: 'MissingProperty[]' },
  PropertyChange: { name: 'xsd:string', op: 'xsd:string' },
  MissingObject: { obj: 'ManagedObjectReference', fault: 'LocalizedMethodFault' },
  LocalizedMethodFault: { localizedMessage: 'xsd:string' },
  ServiceContent: { about: 'AboutInfo' },
  UserSession: { lastActiveTime: 'xsd:dateTime', loginTime: 'xsd:dateTime' },
  TaskInfo: {
    progress: 'xsd:int', cancelled: 'xsd:boolean', cancelable: 'xsd:boolean', error: 'LocalizedMethodFault', eventChainId: 'xsd:int',
    queueTime: 'xsd:dateTime', startTime: 'xsd:dateTime', completeTime: 'xsd:dateTime',
  },
  VirtualMachineConfigInfo: { hardware: 'VirtualHardware', extraConfig: 'OptionValue[]', template: 'xsd:boolean', cpuHotAddEnabled: 'xsd:boolean', memoryHotAddEnabled: 'xsd:boolean' },
  VirtualHardware: { numCPU: 'xsd:int', numCoresPerSocket: 'xsd:int', memoryMB: 'xsd:int', device: 'VirtualDevice[]' },
  VirtualDevice: { key: 'xsd:int', controllerKey: 'xsd:int', unitNumber: 'xsd:int' },
  VirtualMachineRuntimeInfo: { host: 'ManagedObjectReference', maxCpuUsage: 'xsd:int', maxMemoryUsage: 'xsd:int' },
  VirtualMachineSnapshotInfo: { currentSnapshot: 'ManagedObjectReference', rootSnapshotList: 'VirtualMachineSnapshotTree[]' },
  VirtualMachineSnapshotTree: { snapshot: 'ManagedObjectReference', vm: 'ManagedObjectReference', id: 'xsd:int', quiesced: 'xsd:boolean', childSnapshotList: 'VirtualMachineSnapshotTree[]' },
  GuestInfo: { net: 'GuestNicInfo[]', disk: 'GuestDiskInfo[]' },
  GuestNicInfo: { ipAddress: 'xsd:string[]', connected: 'xsd:boolean', deviceConfigId: 'xsd:int' },
  HostNetworkInfo: { vswitch: 'HostVirtualSwitch[]', portgroup: 'HostPortGroup[]' },
  HostVirtualSwitch: { portgroup: 'xsd:string[]', numPorts: 'xsd:int', mtu: 'xsd:int' },
  HostPortGroup: { spec: 'HostPortGroupSpec' },
  HostPortGroupSpec: { vlanId: 'xsd:int' },
  VirtualMachineTicket: { port: 'xsd:int' },
  VirtualMachineMksTicket: { port: 'xsd:int' },
  DVPortgroupConfigInfo: { defaultPortConfig: 'VMwareDVSPortSetting', numPorts: 'xsd:int' },
  VMwareDVSPortSetting: { vlan: 'VmwareDistributedVirtualSwitchVlanIdSpec' },
  VmwareDistributedVirtualSwitchVlanIdSpec: { vlanId: 'xsd:int' },
};

/** Subtypes that inherit a base type's fields (VirtualDisk has VirtualDevice's key …). */
const BASES: Record<string, string> = {};
for (const t of ['VirtualDisk', 'VirtualCdrom', 'VirtualE1000', 'VirtualE1000e', 'VirtualVmxnet3', 'VirtualPCNet32', 'ParaVirtualSCSIController', 'VirtualLsiLogicController', 'VirtualLsiLogicSASController', 'VirtualIDEController', 'VirtualPCIController', 'VirtualSIOController', 'VirtualKeyboard', 'VirtualPointingDevice', 'VirtualMachineVideoCard', 'VirtualMachineVMCIDevice', 'VirtualAHCIController', 'VirtualNVMEController', 'VirtualFloppy', 'VirtualSerialPort', 'VirtualUSBController', 'VirtualPS2Controller']) {
  BASES[t] = 'VirtualDevice';
}

/** The declared type of `field` in `owner`, and whether it repeats. */
export function fieldType(owner: string | undefined, field: string): { type?: string; repeated: boolean } {
  for (let t = owner; t; t = BASES[t]) {
    const declared = FIELDS[t]?.[field];
    if (declared) return declared.endsWith('[]') ? { type: declared.slice(0, -2), repeated: true } : { type: declared, repeated: false };
  }
  return { repeated: false };
}

/** ArrayOfManagedObjectReference → ManagedObjectReference, ArrayOfString → xsd:string … */
export function arrayItemType(arrayType: string): string | undefined {
  if (!arrayType.startsWith('ArrayOf')) return undefined;
  const item = arrayType.slice('ArrayOf'.length);
  const scalar: Record<string, string> = { String: 'xsd:string', Int: 'xsd:int', Long: 'xsd:long', Short: 'xsd:short', Byte: 'xsd:byte', Boolean: 'xsd:boolean', Double: 'xsd:double', Float: 'xsd:float', DateTime: 'xsd:dateTime', AnyType: 'xsd:anyType' };
  return scalar[item] ?? item;
}
