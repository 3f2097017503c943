/**
 * The vSphere import facet: a host's VMs in the detail listUnmanagedInstances shows, read in bulk
 * (one RetrievePropertiesEx over all of the host's VMs for their devices, guest OS, CPU
 * reservation and guest IPs, one for the host's portgroup VLANs, one for the distributed
 * portgroups'), never one call per VM: CloudStack's per-VM reads took ~13 minutes for 600 VMs
 * (apache/cloudstack#9782). Templates are not listed (the cache's vmsOn leaves them out).
 *
 * VLANs of standard portgroups are per host (HostNetworkSystem.networkInfo.portgroup; vcsim does
 * not update HostSystem.config.network), those of distributed ones are the portgroup's default
 * port setting. adopt() changes nothing in vCenter: a VM's ref is its MoRef, a disk's its device key.
 */
import { DriverError, type AdoptedVm, type ImportFacet, type InstanceInfo } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { mapped } from './errors.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, retrieveProperties, type VimValue } from './soap/index.js';
import { controllerName, NIC_TYPES, nicAdapterName } from './vm-details.js';

const VM_PATHS = ['config.hardware.device', 'config.guestFullName', 'config.guestId', 'config.hardware.numCoresPerSocket', 'config.cpuAllocation.reservation', 'guest.net', 'guest.toolsRunningStatus'];

type Device = ReturnType<typeof asObject>;

/**
 * vCenter's names of some guest ids, for servers that report no full name or the id itself
 * (vcsim does): the name vCenter would show.
 */
const GUEST_IDS: Record<string, string> = {
  otherGuest64: 'Other (64-bit)', otherGuest: 'Other (32-bit)', other3xLinux64Guest: 'Other 3.x Linux (64-bit)', otherLinux64Guest: 'Other Linux (64-bit)',
  debian11_64Guest: 'Debian GNU/Linux 11 (64-bit)', debian12_64Guest: 'Debian GNU/Linux 12 (64-bit)', centos7_64Guest: 'CentOS 7 (64-bit)', centos8_64Guest: 'CentOS 8 (64-bit)',
  rockylinux_64Guest: 'Rocky Linux (64-bit)', ubuntu64Guest: 'Ubuntu Linux (64-bit)', windows2019srv_64Guest: 'Microsoft Windows Server 2019 (64-bit)', windows2019srvNext_64Guest: 'Microsoft Windows Server 2022 (64-bit)',
};

function osName(props: Record<string, VimValue>): string | undefined {
  const full = asString(props['config.guestFullName']);
  const id = asString(props['config.guestId']);
  return full && full !== id ? full : (id && GUEST_IDS[id]) ?? full ?? id;
}

/**
 * Portgroup name -> VLAN on this host (standard), and portgroup key -> { name, VLAN } (distributed);
 * with the switch of each (read in the same calls), for offline network discovery.
 */
export interface PortgroupVlans {
  standard: Map<string, number>;
  /** vlan is the primary VLAN, pvlan the secondary one of a private-VLAN portgroup. */
  distributed: Map<string, { name: string; vlan?: number; pvlan?: number; pvlanType?: string; switchRef?: MoRef }>;
  /** Standard portgroup name -> its vSwitch's name on this host. */
  standardSwitch: Map<string, string>;
}

export async function portgroupVlans(ep: VsphereEndpoint, host: MoRef): Promise<PortgroupVlans> {
  const hns = asMoRef((await ep.read(host, ['configManager.networkSystem']))['configManager.networkSystem']);
  const standard = new Map<string, number>();
  const standardSwitch = new Map<string, string>();
  if (hns) {
    const [info] = await mapped('reading the host\'s portgroups', () => retrieveProperties(ep.client, { objects: [hns], propSet: [{ type: 'HostNetworkSystem', pathSet: ['networkInfo.portgroup'] }] }));
    for (const pg of asArray(info?.props['networkInfo.portgroup'])) {
      const spec = asObject(asObject(pg)['spec']);
      const name = asString(spec['name']);
      const vlan = asNumber(spec['vlanId']);
      if (name !== undefined && vlan !== undefined) standard.set(name, vlan);
      const vswitch = asString(spec['vswitchName']);
      if (name !== undefined && vswitch !== undefined) standardSwitch.set(name, vswitch);
    }
  }
  const dvpgRefs = ep.cache.ofType('DistributedVirtualPortgroup').map((o) => o.ref);
  const distributed: PortgroupVlans['distributed'] = new Map();
  if (dvpgRefs.length) {
    const rows = await mapped('reading the distributed portgroups', () => retrieveProperties(ep.client, { objects: dvpgRefs, propSet: [{ type: 'DistributedVirtualPortgroup', pathSet: ['name', 'key', 'config.defaultPortConfig', 'config.distributedVirtualSwitch'] }] }));
    const primaries = await pvlanPrimaries(ep, rows.map((row) => asMoRef(row.props['config.distributedVirtualSwitch'])));
    for (const row of rows) {
      const vlan = asObject(asObject(row.props['config.defaultPortConfig'])['vlan']);
      const switchRef = asMoRef(row.props['config.distributedVirtualSwitch']);
      // A PVLAN spec names only the secondary VLAN (pvlanId); its primary is in the switch's map. A
      // trunk has no single VLAN: only a plain VLAN or a private one maps onto a network by VLAN.
      const pvlan = vlan.$type === 'VmwareDistributedVirtualSwitchPvlanSpec' ? asNumber(vlan['pvlanId']) : undefined;
      const entry = pvlan === undefined ? undefined : primaries.get(`${switchRef?.value}/${pvlan}`);
      const primary = pvlan === undefined ? asNumber(vlan['vlanId']) : entry?.primary;
      distributed.set(asString(row.props['key']) ?? '', { name: asString(row.props['name']) ?? '', vlan: primary, ...(pvlan !== undefined ? { pvlan, pvlanType: entry?.type } : {}), switchRef });
    }
  }
  return { standard, distributed, standardSwitch };
}

/** "switch/secondary VLAN" -> its primary VLAN and type, from each distributed switch's private-VLAN map (config.pvlanConfig). */
async function pvlanPrimaries(ep: VsphereEndpoint, switches: (MoRef | undefined)[]): Promise<Map<string, { primary: number; type?: string }>> {
  const refs = [...new Map(switches.filter((r): r is MoRef => r !== undefined).map((r) => [r.value, r])).values()];
  const out = new Map<string, { primary: number; type?: string }>();
  if (!refs.length) return out;
  const rows = await mapped('reading the distributed switches\' private VLANs', () => retrieveProperties(ep.client, { objects: refs, propSet: [...new Set(refs.map((r) => r.type))].map((type) => ({ type, pathSet: ['config.pvlanConfig'] })) }));
  for (const row of rows) {
    for (const entry of asArray(row.props['config.pvlanConfig']).map(asObject)) {
      const primary = asNumber(entry['primaryVlanId']);
      const secondary = asNumber(entry['secondaryVlanId']);
      if (primary !== undefined && secondary !== undefined) out.set(`${row.obj.value}/${secondary}`, { primary, type: asString(entry['pvlanType']) });
    }
  }
  return out;
}

function details(base: InstanceInfo, props: Record<string, VimValue>, nets: Awaited<ReturnType<typeof portgroupVlans>>, ep: VsphereEndpoint): InstanceInfo {
  const devices = asArray(props['config.hardware.device']).map(asObject);
  const byKey = new Map(devices.map((d) => [asNumber(d['key']), d]));
  const disks = devices.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => (asNumber(a['key']) ?? 0) - (asNumber(b['key']) ?? 0));
  const guestNet = asArray(props['guest.net']).map(asObject);
  const nics = devices.filter((d) => NIC_TYPES.has(d.$type ?? ''));
  const reservation = asNumber(props['config.cpuAllocation.reservation']);
  return {
    ...base,
    osDisplayName: osName(props),
    cpuCoresPerSocket: asNumber(props['config.hardware.numCoresPerSocket']) ?? 1,
    ...(reservation ? { cpuReservationMhz: reservation } : {}),
    toolsRunning: props['guest.toolsRunningStatus'] === 'guestToolsRunning',
    disks: disks.map((d: Device, position) => {
      const backing = asObject(d['backing']);
      const controller = byKey.get(asNumber(d['controllerKey']));
      const bytes = asNumber(d['capacityInBytes']) || (asNumber(d['capacityInKB']) ?? 0) * 1024;
      return {
        id: String(asNumber(d['key'])), label: asString(asObject(d['deviceInfo'])['label']), capacityBytes: bytes,
        controller: controllerName(controller?.$type) ?? controller?.$type, controllerUnit: asNumber(d['unitNumber']), position,
        imagePath: asString(backing['fileName']), datastore: asMoRef(backing['datastore'])?.value,
      };
    }),
    nics: nics.map((d: Device, index) => {
      const backing = asObject(d['backing']);
      const mac = asString(d['macAddress']) ?? '';
      let networkName = asString(backing['deviceName']);
      let vlanId = networkName !== undefined ? nets.standard.get(networkName) : undefined;
      let pvlanId: number | undefined;
      let pvlanType: string | undefined;
      const port = asObject(backing['port']);
      if (backing.$type === 'VirtualEthernetCardDistributedVirtualPortBackingInfo') {
        const pg = nets.distributed.get(asString(port['portgroupKey']) ?? '');
        networkName = pg?.name;
        vlanId = pg?.vlan;
        pvlanId = pg?.pvlan;
        pvlanType = pg?.pvlanType;
      } else if (networkName === undefined) {
        networkName = asString(ep.cache.get(asMoRef(backing['network']) ?? new MoRef('', ''))?.props['name']);
      }
      const reported = guestNet.find((g) => asString(g['macAddress'])?.toLowerCase() === mac.toLowerCase()) ?? (index === 0 && guestNet.length === 1 && !asString(guestNet[0]!['macAddress']) ? guestNet[0] : undefined);
      const ips = reported ? asArray(reported['ipAddress']).map((a) => asString(a) ?? '').filter(Boolean) : [];
      const slot = asNumber(asObject(d['slotInfo'])['pciSlotNumber']);
      return {
        id: `nic${index}`, macAddress: mac, networkName, vlanId: vlanId === 0 ? undefined : vlanId, ...(pvlanId !== undefined ? { pvlanId, ...(pvlanType ? { pvlanType } : {}) } : {}), adapterType: nicAdapterName(d.$type) ?? d.$type,
        ...(slot !== undefined ? { pciSlot: String(slot) } : {}), ...(ips.length ? { ipAddresses: ips } : {}),
      };
    }),
  };
}

/** VMS (as listInstances lists them) of HOST in R41's detail, with the host's portgroups they were resolved against. */
export async function hostInstances(ep: VsphereEndpoint, host: MoRef, vms: InstanceInfo[]): Promise<{ instances: InstanceInfo[]; nets: PortgroupVlans }> {
  const [rows, nets] = await Promise.all([
    vms.length ? mapped('reading the VMs\' devices', () => retrieveProperties(ep.client, { objects: vms.map((v) => new MoRef('VirtualMachine', v.ref)), propSet: [{ type: 'VirtualMachine', pathSet: VM_PATHS }] }, { pageSize: 500 })) : Promise.resolve([]),
    portgroupVlans(ep, host),
  ]);
  const byRef = new Map(rows.map((r) => [r.obj.value, r.props]));
  // A VM gone between the cache and the read is left out, as if it had been listed a moment later.
  return { instances: vms.flatMap((v) => (byRef.has(v.ref) ? [details(v, byRef.get(v.ref)!, nets, ep)] : [])), nets };
}

/**
 * Refuses a VM that changed since LISTED was read, from the inventory cache alone (the change
 * stream keeps it current): gone, moved to another host, made a template, or with disks on a
 * datastore it no longer uses. Devices are not in the cache; reading them back would be one call
 * per VM of a bulk run, the cost the listing handed down exists to avoid.
 */
function assertAsListed(ep: VsphereEndpoint, host: MoRef, listed: InstanceInfo): void {
  ep.assertReachable('taking over the VM');
  const cached = ep.cache.get(new MoRef('VirtualMachine', listed.ref));
  if (!cached || !asMoRef(cached.props['runtime.host'])?.equals(host) || cached.props['config.template'] === true) {
    throw new DriverError(`VM ${listed.name} (${listed.ref}) is no longer a VM of host ${host.value} in vCenter; list it again`, 'not-found');
  }
  const now = asArray(cached.props['datastore']).map((d) => asMoRef(d)?.value).filter((d): d is string => d !== undefined);
  const gone = [...new Set(listed.disks.flatMap((d) => (d.datastore !== undefined && !now.includes(d.datastore) ? [d.datastore] : [])))];
  if (gone.length) throw new DriverError(`the disks of VM ${listed.name} moved since it was listed (it no longer uses datastore ${gone.join(', ')}); list it again`, 'invalid');
}

/** The facet for the host HOST of endpoint EP; BASE lists the host's VMs as listInstances does. */
export function vsphereImport(ep: VsphereEndpoint, host: MoRef, base: () => Promise<InstanceInfo[]>): ImportFacet {
  const list = async (): Promise<InstanceInfo[]> => {
    const vms = await base();
    if (vms.length === 0) return [];
    return (await hostInstances(ep, host, vms)).instances;
  };
  const inspect = async (vm: string): Promise<InstanceInfo> => {
    const found = (await list()).find((i) => i.ref === vm);
    if (!found) throw new DriverError(`VM ${vm} does not exist on host ${host.value} in vCenter`, 'not-found');
    return found;
  };
  return {
    list,
    inspect,
    async adopt(vm, listed): Promise<AdoptedVm> {
      // With the listing the import was planned on (a bulk run lists each host once), no SOAP call.
      if (listed) assertAsListed(ep, host, listed);
      const info = listed ?? (await inspect(vm));
      return { ref: info.ref, disks: info.disks.map((d) => ({ id: d.id, name: d.imagePath ?? d.id, ref: d.id, ...(d.datastore ? { pool: d.datastore } : {}) })) };
    },
  };
}
