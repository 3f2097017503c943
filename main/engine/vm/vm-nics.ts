/**
 * A VM's NICs after deploy (CloudStack's addNicToVirtualMachine / removeNicFromVirtualMachine).
 *
 * A running VM gets the change on its host at once through the driver's NicFacet (a hot plug or
 * unplug); a running VM on a host without one is refused with 431 before any job (listHosts
 * capability `nics`, which the UI gates the actions by). A stopped VM changes in Kiln's record,
 * which its next start defines (R9); where its definition is still on a host with a NicFacet, that
 * definition changes too (an imported VM keeps its hypervisor's definition, so it must). The
 * record changes only after the host did: a refusal leaves the VM as it was.
 */
import { randomUUID } from 'node:crypto';
import type { HostSession, NicSpec } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { Caller } from '../registry/types.js';
import { ApiError } from '../registry/errors.js';
import { now } from '../db/database.js';
import { vmRef, type NetworkRow, type NicRow, type VmRow } from './rows.js';
import { randomMac } from './vm-service.js';
import { nicPrivateVlan } from './private-vlan-nics.js';
import { publishPrivateVlanPeers, republishPrivateVlanPeers } from './private-vlan-peers.js';

/** The states in which NICs can be added or removed: CloudStack's (Running or Stopped). */
export const NIC_STATES = ['Running', 'Stopped'];

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export interface NicRequest {
  network: NetworkRow;
  mac?: string;
  ip?: string;
}

function requireNicState(vm: VmRow): void {
  if (!NIC_STATES.includes(vm.state)) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is ${vm.state}; NICs are added or removed while it is ${NIC_STATES.join(' or ')}`);
}

const toNumber = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

/** The host session of a running VM, which must offer the NicFacet (431 naming virtualmachineid otherwise). */
async function liveSession(engine: Engine, vm: VmRow): Promise<HostSession> {
  const session = await engine.hosts.session(vm.host_id!);
  if (!session.nics) throw ApiError.param(`virtualmachineid: the hypervisor of host ${hostName(engine, vm.host_id!)} cannot add or remove NICs of a running VM; stop VM ${vm.display_name} first`);
  return session;
}

function hostName(engine: Engine, hostId: number): string {
  return (engine.db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(hostId) as string | undefined) ?? String(hostId);
}

/** A running VM's host without a NicFacet, known from listHosts capabilities: 431 before the job is queued. */
function requireLiveCapability(engine: Engine, vm: VmRow): void {
  if (vm.state !== 'Running' || vm.host_id === null) return;
  const caps = engine.db.prepare('SELECT capabilities FROM hosts WHERE id=?').pluck().get(vm.host_id) as string | null;
  if (caps && (JSON.parse(caps) as Record<string, unknown>)['nics'] === false) {
    throw ApiError.param(`virtualmachineid: the hypervisor of host ${hostName(engine, vm.host_id)} cannot add or remove NICs of a running VM; stop VM ${vm.display_name} first`);
  }
}

/** Where a change of VM's NICs must reach now: its host while it runs, the host holding a stopped one's definition if that host can change it. */
async function definitionSession(engine: Engine, vm: VmRow): Promise<{ session: HostSession; live: boolean } | undefined> {
  if (vm.state === 'Running' && vm.host_id !== null) return { session: await liveSession(engine, vm), live: true };
  if (vm.last_host_id === null || vm.ref === null) return undefined;
  const session = await engine.hosts.session(vm.last_host_id).catch(() => undefined);
  if (!session?.nics) {
    if (vm.adopted === 1) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} was imported and keeps its hypervisor's definition, which host ${hostName(engine, vm.last_host_id)} cannot change; change its NICs while it runs there, or on its hypervisor`);
    return undefined;
  }
  return (await session.powerState(vmRef(vm))) === 'Missing' ? undefined : { session, live: false };
}

function nicSpec(row: Pick<NicRow, 'mac_address'>, network: NetworkRow): NicSpec {
  return { macAddress: row.mac_address, network: network.name, vlan: network.vlan ?? undefined, ...nicPrivateVlan({ network_name: network.name, ...network }) };
}

/** Every addNicToVirtualMachine refusal, before the job is queued (431 naming the parameter). */
export function checkAddNic(engine: Engine, vm: VmRow, req: NicRequest): void {
  requireNicState(vm);
  const { network } = req;
  if (network.zone_id !== vm.zone_id) throw ApiError.param(`networkid: network ${network.name} is not in the zone of VM ${vm.display_name}`);
  if (network.account_id !== null && network.account_id !== vm.account_id) throw ApiError.param(`networkid: network ${network.name} belongs to another account than VM ${vm.display_name}`);
  // As CloudStack: one NIC per network and VM.
  if (engine.db.prepare('SELECT 1 FROM nics WHERE vm_id=? AND network_id=? AND removed IS NULL').get(vm.id, network.id)) {
    throw ApiError.param(`networkid: VM ${vm.display_name} already has a NIC on network ${network.name}`);
  }
  if (req.mac !== undefined) {
    if (!MAC.test(req.mac)) throw ApiError.param(`macaddress: ${JSON.stringify(req.mac)} is not a MAC address (six pairs of hex digits separated by colons)`);
    if (engine.db.prepare('SELECT 1 FROM nics WHERE lower(mac_address)=? AND removed IS NULL').get(req.mac)) throw ApiError.param(`macaddress: ${req.mac} is used by another NIC`);
  }
  if (req.ip !== undefined) {
    if (network.guest_type === 'L2') throw ApiError.param(`ipaddress: network ${network.name} is an L2 network; Kiln hands out no addresses there`);
    if (!IPV4.test(req.ip)) throw ApiError.param(`ipaddress: ${JSON.stringify(req.ip)} is not an IPv4 address`);
    if (network.start_ip && network.end_ip && (toNumber(req.ip) < toNumber(network.start_ip) || toNumber(req.ip) > toNumber(network.end_ip))) {
      throw ApiError.param(`ipaddress: ${req.ip} is outside network ${network.name}'s range ${network.start_ip}-${network.end_ip}`);
    }
    if (engine.db.prepare('SELECT 1 FROM nics WHERE network_id=? AND ip4_address=? AND removed IS NULL').get(network.id, req.ip)) throw ApiError.param(`ipaddress: ${req.ip} is used by another NIC on network ${network.name}`);
  }
  requireLiveCapability(engine, vm);
}

/** The NIC removeNicFromVirtualMachine names, with every refusal before the job (431 naming the parameter). */
export function checkRemoveNic(engine: Engine, vm: VmRow, nicUuid: string): NicRow {
  requireNicState(vm);
  const nic = engine.db.prepare('SELECT * FROM nics WHERE uuid=? AND removed IS NULL').get(nicUuid) as NicRow | undefined;
  if (!nic || nic.vm_id !== vm.id) throw ApiError.param(`nicid: VM ${vm.display_name} has no NIC ${nicUuid}`);
  // As CloudStack: the default NIC stays (updateDefaultNicForVirtualMachine first).
  if (nic.is_default === 1) throw ApiError.param(`nicid: NIC ${nicUuid} is the default NIC of VM ${vm.display_name}; it cannot be removed`);
  requireLiveCapability(engine, vm);
  return nic;
}

export async function addNic(engine: Engine, caller: Caller, vm: VmRow, req: NicRequest, jobUuid: string): Promise<VmRow> {
  // Queued behind the VM's other jobs: checked again against the VM as it is now.
  const current = engine.vms.get(vm.id);
  checkAddNic(engine, current, req);
  const { network } = req;
  const device = ((engine.db.prepare('SELECT MAX(device_id) FROM nics WHERE vm_id=? AND removed IS NULL').pluck().get(vm.id) as number | null) ?? -1) + 1;
  let mac = req.mac;
  for (let attempt = 0; mac === undefined && attempt < 8; attempt++) {
    const candidate = randomMac();
    if (!engine.db.prepare('SELECT 1 FROM nics WHERE mac_address=? AND removed IS NULL').get(candidate)) mac = candidate;
  }
  if (mac === undefined) throw ApiError.internal('could not find a free MAC address');
  const ip = req.ip ?? (network.guest_type === 'L2' ? null : engine.vms.freeIp(network));
  const target = await definitionSession(engine, current);
  const spec = nicSpec({ mac_address: mac }, network);
  // A port plugged into a running VM is on the wire at once: the zone's hosts are told it first
  // (its own host must be, the others within their bound), and told again if the plug fails.
  const joining = target?.live && spec.privateVlan && spec.vlan !== undefined ? { primaryVlan: spec.vlan, macAddress: mac, ...spec.privateVlan } : undefined;
  if (joining) await publishPrivateVlanPeers(engine, vm.zone_id, { required: current.host_id!, joining });
  try {
    if (target) await target.session.nics!.add(vmRef(current), spec, { device, live: target.live, ...engine.vms.taskOptions(jobUuid) });
  } catch (error) {
    if (joining) await republishPrivateVlanPeers(engine, vm.zone_id);
    throw error;
  }
  const uuid = randomUUID();
  engine.db
    .prepare('INSERT INTO nics (uuid, vm_id, network_id, mac_address, ip4_address, device_id, is_default, state, created) VALUES (?,?,?,?,?,?,0,?,?)')
    .run(uuid, vm.id, network.id, mac, ip, device, target ? 'Reserved' : 'Allocated', now());
  engine.events.record({
    type: 'NIC.CREATE', description: `NIC ${mac} on network ${network.name} added to VM ${vm.display_name}${target?.live ? ', live' : ''}`,
    userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'Nic', resourceUuid: uuid, jobUuid,
  });
  // A stopped VM's new port joins the zone's view now too (its start would tell the hosts anyway).
  if (spec.privateVlan && !joining) await republishPrivateVlanPeers(engine, vm.zone_id);
  return engine.vms.get(vm.id);
}

export async function removeNic(engine: Engine, caller: Caller, vm: VmRow, nicUuid: string, jobUuid: string): Promise<VmRow> {
  const current = engine.vms.get(vm.id);
  const nic = checkRemoveNic(engine, current, nicUuid);
  const network = engine.db.prepare('SELECT * FROM networks WHERE id=?').get(nic.network_id) as NetworkRow;
  const target = await definitionSession(engine, current);
  if (target) await target.session.nics!.remove(vmRef(current), nicSpec(nic, network), { live: target.live, ...engine.vms.taskOptions(jobUuid) });
  engine.db.prepare(`UPDATE nics SET removed=?, state='Deallocating' WHERE id=?`).run(now(), nic.id);
  engine.events.record({
    type: 'NIC.DELETE', description: `NIC ${nic.mac_address} on network ${network.name} removed from VM ${vm.display_name}${target?.live ? ', live' : ''}`,
    userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'Nic', resourceUuid: nic.uuid, jobUuid,
  });
  // Kiln no longer vouches for its port: it leaves the zone's hosts' view (private-vlan-peers.ts).
  if (network.isolated_pvlan !== null && network.isolated_pvlan !== undefined) await republishPrivateVlanPeers(engine, vm.zone_id);
  return engine.vms.get(vm.id);
}
