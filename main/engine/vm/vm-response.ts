/**
 * The `virtualmachine` object as CloudStack's UserVmResponse shapes it. Root-only fields
 * (instancename, the host a VM runs on) are left out for other callers (R4), and details on
 * the user.vm.blacklisted.details list are hidden from non-admins (R30).
 */
import type { Engine } from '../engine.js';
import { PAGE_IDS, rowsFor } from '../registry/list-page.js';
import type { ApiObject, Caller } from '../registry/types.js';
import { csDate } from '../format.js';
import type { VmRow } from './rows.js';
import { TRANSIENT_STATES } from './states.js';
import { tagsForPage } from '../tags/tag-query.js';
import { keyPairNamesForPage } from '../ssh-keys/vm-keys.js';
import { consolesForPage } from './vm-consoles.js';
import { volumeChangeRefusal } from '../volumes/volume-change-rule.js';

interface Joined {
  vmid: number;
  account: string;
  domain: string;
  domainuuid: string;
  zoneuuid: string;
  zonename: string;
  hostuuid: string | null;
  hostname: string | null;
  poduuid: string | null;
  clusteruuid: string | null;
  templateuuid: string | null;
  templatename: string | null;
  templatedisplaytext: string | null;
  isouuid: string | null;
  isoname: string | null;
  offeringuuid: string;
  offeringname: string;
  osuuid: string;
  osname: string;
  username: string;
  useruuid: string;
}

const JOIN_SQL = `
SELECT v.id AS vmid, a.name AS account, d.name AS domain, d.uuid AS domainuuid, z.uuid AS zoneuuid, z.name AS zonename,
       h.uuid AS hostuuid, h.name AS hostname, p.uuid AS poduuid, c.uuid AS clusteruuid,
       t.uuid AS templateuuid, t.name AS templatename, t.display_text AS templatedisplaytext, i.uuid AS isouuid, i.name AS isoname,
       s.uuid AS offeringuuid, s.name AS offeringname, g.uuid AS osuuid, g.display_name AS osname, u.username, u.uuid AS useruuid
FROM vm_instances v
JOIN accounts a ON a.id=v.account_id JOIN domains d ON d.id=v.domain_id JOIN zones z ON z.id=v.zone_id
LEFT JOIN hosts h ON h.id=v.host_id LEFT JOIN pods p ON p.id=v.pod_id LEFT JOIN clusters c ON c.id=v.cluster_id
LEFT JOIN templates t ON t.id=v.template_id LEFT JOIN templates i ON i.id=v.iso_id
JOIN service_offerings s ON s.id=v.service_offering_id JOIN guest_os g ON g.id=v.os_type_id JOIN users u ON u.id=v.user_id
WHERE v.id ${PAGE_IDS}`;

interface NicRow {
  vm_id: number;
  uuid: string;
  mac_address: string;
  ip4_address: string | null;
  is_default: number;
  device_id: number;
  networkid: string;
  networkname: string;
  guest_type: string;
  vlan: number | null;
  gateway: string | null;
  netmask: string | null;
}

/** The related data of a page of VMs, one statement each (not one per VM): the list's cost follows the page. */
const RELATED = {
  details: `SELECT vm_id, name, value FROM vm_details WHERE vm_id ${PAGE_IDS} AND display=1 ORDER BY vm_id, name`,
  nics: `SELECT n.vm_id, n.uuid, n.mac_address, n.ip4_address, n.is_default, n.device_id, w.uuid AS networkid, w.name AS networkname, w.guest_type, w.vlan, w.gateway, w.netmask
         FROM nics n JOIN networks w ON w.id=n.network_id WHERE n.vm_id ${PAGE_IDS} AND n.removed IS NULL ORDER BY n.vm_id, n.device_id`,
  affinity: `SELECT m.vm_id, g.uuid AS id, g.name, g.type, g.description FROM affinity_groups g JOIN affinity_group_vms m ON m.group_id=g.id WHERE m.vm_id ${PAGE_IDS} ORDER BY m.vm_id, g.name`,
  root: `SELECT vm_id, device_id FROM volumes WHERE vm_id ${PAGE_IDS} AND volume_type='ROOT' AND removed IS NULL`,
  // The newest pending job of each transient VM (a VM has at most one running job per queue).
  pending: `SELECT instance_uuid, uuid FROM async_jobs WHERE instance_uuid ${PAGE_IDS} AND status=0 ORDER BY id`,
};

/**
 * The parts of a response a list may ask for, as CloudStack's listVirtualMachines `details`
 * names them (ApiConstants.VMDetails). `min` keeps the identity, owner, state, zone and host
 * fields only; the groups add their fields back (`details=min,nics` is the usual cheap list).
 */
export const VM_DETAIL_GROUPS = ['all', 'min', 'group', 'nics', 'stats', 'secgrp', 'tmpl', 'servoff', 'diskoff', 'backoff', 'iso', 'volume', 'affgrp'] as const;
export type VmDetailGroup = (typeof VM_DETAIL_GROUPS)[number];
export const FULL_VIEW: ReadonlySet<VmDetailGroup> = new Set<VmDetailGroup>(['all']);

/** True when VIEW includes GROUP: `all` has every group; a view without `min` is all (CloudStack's default). */
function shows(view: ReadonlySet<VmDetailGroup>, group: VmDetailGroup): boolean {
  return view.has('all') || !view.has('min') || view.has(group);
}

export function vmResponse(engine: Engine, vm: VmRow, caller: Caller): ApiObject {
  return vmResponses(engine, [vm], caller)[0]!;
}

/** Responses for VMS (a page of rows) with a constant number of statements, whatever their number. */
export function vmResponses(engine: Engine, vms: VmRow[], caller: Caller, view: ReadonlySet<VmDetailGroup> = FULL_VIEW): ApiObject[] {
  if (vms.length === 0) return [];
  const db = engine.db;
  const ids = vms.map((vm) => vm.id);
  const joined = new Map((db.prepare(JOIN_SQL).all(JSON.stringify(ids)) as Joined[]).map((j) => [j.vmid, j]));
  const isAdmin = caller.role !== 'User';
  const full = shows(view, 'all');
  const hidden = new Set(isAdmin ? [] : engine.settings.list('user.vm.blacklisted.details'));
  const details = full ? rowsFor<{ vm_id: number; name: string; value: string }>(db, RELATED.details, ids, 'vm_id') : new Map();
  const nics = shows(view, 'nics') ? rowsFor<NicRow>(db, RELATED.nics, ids, 'vm_id') : undefined;
  const affinity = shows(view, 'affgrp') ? rowsFor<{ vm_id: number } & ApiObject>(db, RELATED.affinity, ids, 'vm_id') : undefined;
  const roots = full ? rowsFor<{ vm_id: number; device_id: number }>(db, RELATED.root, ids, 'vm_id') : new Map();
  const busy = vms.filter((vm) => TRANSIENT_STATES.includes(vm.state)).map((vm) => vm.uuid);
  const pending = rowsFor<{ instance_uuid: string; uuid: string }, string>(db, RELATED.pending, busy, 'instance_uuid');
  const tags = full ? tagsForPage(db, 'UserVm', ids) : undefined;
  const keyPairs = full ? keyPairNamesForPage(db, ids) : undefined;
  const consoles = full ? consolesForPage(db, ids) : undefined;
  return vms.map((vm) =>
    shape(vm, joined.get(vm.id)!, caller, view, {
      details: Object.fromEntries((details.get(vm.id) ?? []).filter((d: { name: string }) => !hidden.has(d.name)).map((d: { name: string; value: string }) => [d.name, d.value])),
      nics: nics ? (nics.get(vm.id) ?? []) : undefined,
      affinity: affinity ? (affinity.get(vm.id) ?? []).map(({ vm_id: _, ...g }) => g) : undefined,
      rootDeviceId: roots.get(vm.id)?.[0]?.device_id ?? 0,
      pendingJob: pending.get(vm.uuid)?.at(-1)?.uuid,
      tags: tags ? (tags.get(vm.id) ?? []) : undefined,
      keyPairs: keyPairs?.get(vm.id),
      consoles: consoles?.get(vm.id),
      // Asked for by name only (details=volume): a few statements per VM, which a full page of VMs need not pay.
      volumeChangeBlocked: view.has('volume') ? volumeChangeRefusal(engine, vm) : undefined,
    }),
  );
}

interface Related {
  details: Record<string, string>;
  nics?: NicRow[];
  affinity?: ApiObject[];
  rootDeviceId: number;
  pendingJob?: string;
  tags?: ApiObject[];
  keyPairs?: string[];
  /** Kiln: the consoles the VM's host offers (vm-consoles.ts). */
  consoles?: string;
  /** Kiln: why its volumes cannot be attached, detached, added or removed now (volumes/volume-change-rule.ts). */
  volumeChangeBlocked?: string;
}

function shape(vm: VmRow, j: Joined, caller: Caller, view: ReadonlySet<VmDetailGroup>, related: Related): ApiObject {
  const isRoot = caller.role === 'Admin';
  const isAdmin = caller.role !== 'User';
  const nics = related.nics?.map((n) => ({
    id: n.uuid,
    networkid: n.networkid,
    networkname: n.networkname,
    macaddress: n.mac_address,
    ipaddress: n.ip4_address ?? undefined,
    gateway: n.gateway ?? undefined,
    netmask: n.netmask ?? undefined,
    isdefault: n.is_default === 1,
    deviceid: String(n.device_id),
    type: n.guest_type,
    traffictype: 'Guest',
    broadcasturi: n.vlan !== null ? `vlan://${n.vlan}` : undefined,
    isolationuri: n.vlan !== null ? `vlan://${n.vlan}` : undefined,
  }));
  const pending = related.pendingJob ? { uuid: related.pendingJob } : undefined;
  const details = related.details;
  const affinity = related.affinity;
  const root = { device_id: related.rootDeviceId };

  const out: ApiObject = {
    id: vm.uuid,
    name: vm.hostname,
    displayname: vm.display_name,
    account: j.account,
    userid: j.useruuid,
    username: j.username,
    domainid: j.domainuuid,
    domain: j.domain,
    created: csDate(vm.created),
    state: vm.state,
    haenable: vm.ha_enabled === 1,
    group: vm.vm_group ?? undefined,
    zoneid: j.zoneuuid,
    zonename: j.zonename,
    templateid: j.templateuuid ?? undefined,
    templatename: j.templatename ?? undefined,
    templatedisplaytext: j.templatedisplaytext ?? undefined,
    isoid: j.isouuid ?? undefined,
    isoname: j.isoname ?? undefined,
    serviceofferingid: j.offeringuuid,
    serviceofferingname: j.offeringname,
    cpunumber: vm.cpu_number,
    cpuspeed: vm.cpu_speed,
    memory: vm.memory,
    guestosid: j.osuuid,
    ostypeid: j.osuuid,
    osdisplayname: j.osname,
    rootdeviceid: root?.device_id ?? 0,
    rootdevicetype: 'ROOT',
    hypervisor: vm.hypervisor,
    isdynamicallyscalable: vm.is_dynamically_scalable === 1,
    nic: nics,
    affinitygroup: affinity,
    details,
    tags: related.tags,
    hasannotations: false,
    lastupdated: csDate(vm.created),
  };
  if (isAdmin) {
    if (j.hostuuid) {
      out['hostid'] = j.hostuuid;
      out['hostname'] = j.hostname;
    }
    if (j.poduuid) out['podid'] = j.poduuid;
    if (j.clusteruuid) out['clusterid'] = j.clusteruuid;
  }
  if (related.keyPairs?.length) out['keypairs'] = related.keyPairs.join(',');
  if (related.consoles) out['consoles'] = related.consoles;
  if (related.volumeChangeBlocked) out['volumechangeblocked'] = related.volumeChangeBlocked;
  if (isRoot) out['instancename'] = vm.internal_name;
  if (pending) {
    out['jobid'] = pending.uuid;
    out['jobstatus'] = 0;
  }
  if (!shows(view, 'all')) {
    // A new object with the kept keys (deleting keys would leave V8 a slow dictionary object per row).
    const dropped = new Set(GROUP_FIELDS.filter(([group]) => !view.has(group)).flatMap(([, keys]) => keys));
    return Object.fromEntries(Object.entries(out).filter(([key]) => !dropped.has(key)));
  }
  return out;
}

/** The fields each `details` group adds to a `min` response (CloudStack's UserVmJoinDaoImpl groups them so). */
const GROUP_FIELDS: [VmDetailGroup, string[]][] = [
  ['group', ['group']],
  ['tmpl', ['templateid', 'templatename', 'templatedisplaytext']],
  ['iso', ['isoid', 'isoname']],
  ['servoff', ['serviceofferingid', 'serviceofferingname', 'cpunumber', 'cpuspeed', 'memory']],
  ['nics', ['nic']],
  ['affgrp', ['affinitygroup']],
  ['all', ['details', 'rootdeviceid', 'rootdevicetype', 'hasannotations']],
];
