/**
 * Realistic VMs in vcsim, made over SOAP the way an admin's vCenter would hold them: two SCSI
 * controllers, several thin disks and NICs on VLAN portgroups (standard and distributed). vcsim's
 * own -vm flag gives one disk and one VLAN-0 NIC only. The import issue reuses these; the
 * read-back (`vmDevices`) is what an import would see.
 */
import {
  MoRef, asArray, asMoRef, asNumber, asObject, asString, getProperties, retrieveInventory, retrieveProperties, typed, vm as vim, waitForTask,
  type SoapObject, type Typed, type VimClient,
} from '../../drivers/vsphere/soap/index.js';
import type { VsphereEndpoint } from '../../drivers/vsphere/endpoint.js';

export interface VmFixture {
  name: string;
  /** Disk sizes in GiB; the first two go on the PVSCSI controller, the rest on the LSI SAS one. */
  disksGiB: number[];
  /** Portgroup names: standard (PG-VLAN101) or distributed (DVPG-VLAN201). */
  nics: string[];
  powerOn?: boolean;
  /** Every NIC of this type (default: Vmxnet3 and E1000e in turn, mixed adapters). */
  nicType?: string;
  /** Every disk on the PVSCSI controller (default: the third and later on the LSI SAS one, mixed controllers). */
  oneController?: boolean;
}

export interface Placement {
  folder: MoRef;
  pool: MoRef;
  host?: MoRef;
  datastoreName: string;
}

/** The first datacenter's VM folder, the first cluster's pool and the first datastore. */
export async function defaultPlacement(client: VimClient): Promise<Placement> {
  const inv = await retrieveInventory(client, [
    { type: 'Datacenter', pathSet: ['vmFolder'] },
    { type: 'ClusterComputeResource', pathSet: ['name', 'resourcePool'] },
    { type: 'Datastore', pathSet: ['name'] },
  ]);
  const cluster = inv.filter((o) => o.obj.type === 'ClusterComputeResource').sort((a, b) => String(a.props['name']).localeCompare(String(b.props['name'])))[0]!;
  return {
    folder: asMoRef(inv.find((o) => o.obj.type === 'Datacenter')!.props['vmFolder'])!,
    pool: asMoRef(cluster.props['resourcePool'])!,
    datastoreName: String(inv.find((o) => o.obj.type === 'Datastore')!.props['name']),
  };
}

async function nicBacking(client: VimClient, portgroup: string): Promise<Typed> {
  const nets = await retrieveInventory(client, [
    { type: 'Network', pathSet: ['name'] },
    { type: 'DistributedVirtualPortgroup', pathSet: ['name', 'key', 'config.distributedVirtualSwitch'] },
  ]);
  const dvpg = nets.find((n) => n.obj.type === 'DistributedVirtualPortgroup' && n.props['name'] === portgroup);
  if (dvpg) {
    const dvs = asMoRef(dvpg.props['config.distributedVirtualSwitch'])!;
    const uuid = asString((await getProperties(client, dvs, ['uuid']))['uuid'])!;
    return typed('VirtualEthernetCardDistributedVirtualPortBackingInfo', { port: { switchUuid: uuid, portgroupKey: String(dvpg.props['key']) } });
  }
  const net = nets.find((n) => n.obj.type === 'Network' && n.props['name'] === portgroup);
  if (!net) throw new Error(`no portgroup ${portgroup}`);
  return typed('VirtualEthernetCardNetworkBackingInfo', { deviceName: portgroup, network: net.obj });
}

/** CreateVM_Task with the fixture's controllers, disks and NICs (element order as in vim25's XSD). */
export async function createVmWithDevices(client: VimClient, where: Placement, vm: VmFixture): Promise<MoRef> {
  const deviceChange: SoapObject[] = [
    { operation: 'add', device: typed('ParaVirtualSCSIController', { key: -100, busNumber: 0, sharedBus: 'noSharing' }) },
    { operation: 'add', device: typed('VirtualLsiLogicSASController', { key: -101, busNumber: 1, sharedBus: 'noSharing' }) },
  ];
  vm.disksGiB.forEach((gib, i) => {
    deviceChange.push({
      operation: 'add',
      fileOperation: 'create',
      device: typed('VirtualDisk', {
        key: -200 - i,
        backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: `[${where.datastoreName}]`, diskMode: 'persistent', thinProvisioned: true }),
        controllerKey: i < 2 || vm.oneController ? -100 : -101,
        unitNumber: i < 2 || vm.oneController ? i : i - 2,
        capacityInKB: gib * 1024 * 1024,
      }),
    });
  });
  for (const [i, pg] of vm.nics.entries()) {
    deviceChange.push({
      operation: 'add',
      device: typed(vm.nicType ?? (i % 2 === 0 ? 'VirtualVmxnet3' : 'VirtualE1000e'), { key: -300 - i, backing: await nicBacking(client, pg), addressType: 'generated' }),
    });
  }
  const task = asMoRef(await client.call('CreateVM_Task', where.folder, {
    config: { name: vm.name, guestId: 'otherGuest64', files: { vmPathName: `[${where.datastoreName}]` }, numCPUs: 1, memoryMB: 64, deviceChange },
    pool: where.pool,
    host: where.host,
  }))!;
  const ref = asMoRef(await waitForTask(client, task))!;
  if (vm.powerOn) await waitForTask(client, asMoRef(await client.call('PowerOnVM_Task', ref))!);
  return ref;
}

export interface VmDevices {
  disks: Array<{ key: number; controller: string; bus: number; unit: number; gib: number; file: string }>;
  nics: Array<{ type: string; mac: string; portgroup: string; vlan: number | undefined }>;
}

/** The disks and NICs of a VM as an import would see them, VLANs resolved through the VM's host (standard) or the portgroup (distributed). */
export async function vmDevices(client: VimClient, vm: MoRef): Promise<VmDevices> {
  const props = await getProperties(client, vm, ['config.hardware.device', 'runtime.host']);
  const devices = asArray(props['config.hardware.device']).map(asObject);
  const byKey = new Map(devices.map((d) => [asNumber(d['key']), d]));
  const host = asMoRef(props['runtime.host'])!;
  const hns = asMoRef((await getProperties(client, host, ['configManager.networkSystem']))['configManager.networkSystem'])!;
  const [info] = await retrieveProperties(client, { objects: [hns], propSet: [{ type: 'HostNetworkSystem', pathSet: ['networkInfo.portgroup'] }] });
  const stdVlan = new Map(asArray(info!.props['networkInfo.portgroup']).map((pg) => {
    const spec = asObject(asObject(pg)['spec']);
    return [asString(spec['name']), asNumber(spec['vlanId'])];
  }));
  const dvpgs = await retrieveInventory(client, [{ type: 'DistributedVirtualPortgroup', pathSet: ['name', 'key', 'config.defaultPortConfig'] }]);
  const out: VmDevices = { disks: [], nics: [] };
  for (const d of devices) {
    if (d.$type === 'VirtualDisk') {
      const ctl = byKey.get(asNumber(d['controllerKey']));
      out.disks.push({
        key: asNumber(d['key'])!, controller: ctl?.$type ?? '?', bus: asNumber(ctl?.['busNumber']) ?? -1, unit: asNumber(d['unitNumber'])!,
        gib: (asNumber(d['capacityInKB']) ?? 0) / 1024 / 1024, file: asString(asObject(d['backing'])['fileName']) ?? '',
      });
    }
    const backing = asObject(d['backing']);
    if (backing.$type === 'VirtualEthernetCardNetworkBackingInfo') {
      const name = asString(backing['deviceName'])!;
      out.nics.push({ type: d.$type!, mac: asString(d['macAddress']) ?? '', portgroup: name, vlan: stdVlan.get(name) });
    } else if (backing.$type === 'VirtualEthernetCardDistributedVirtualPortBackingInfo') {
      const key = asString(asObject(backing['port'])['portgroupKey']);
      const pg = dvpgs.find((p) => p.props['key'] === key);
      out.nics.push({ type: d.$type!, mac: asString(d['macAddress']) ?? '', portgroup: String(pg?.props['name']), vlan: asNumber(asObject(asObject(pg?.props['config.defaultPortConfig'])['vlan'])['vlanId']) });
    }
  }
  return out;
}

/**
 * Sets what vcsim reports as VM REF's VMware Tools status (extraConfig SET.guest.toolsRunningStatus,
 * a ReconfigVM_Task) and waits until EP's change-fed cache shows it: Kiln reads Tools only there
 * (stop, reboot and live scale decide by it). The wait is a bound, not a timing: the stream brings
 * the change in a round trip on an idle machine, but 5 s was too little in CI's parallel group
 * (1 run in 3 of driver-vm failed there, and its next two cases after it).
 */
export async function setToolsStatus(client: VimClient, ep: VsphereEndpoint, ref: string, status: 'guestToolsRunning' | 'guestToolsNotRunning'): Promise<void> {
  const vm = new MoRef('VirtualMachine', ref);
  await waitForTask(client, (await vim.reconfigure(client, vm, { extraConfig: [{ key: 'SET.guest.toolsRunningStatus', value: typed('xsd:string', status) }] })).ref);
  await ep.waitFor(() => ep.cache.get(vm)?.props['guest.toolsRunningStatus'] === status, TOOLS_SEEN_MS, `tools status ${status}`);
}
const TOOLS_SEEN_MS = 30_000;
