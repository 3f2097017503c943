/**
 * The `virtualmachine` object as CloudStack's UserVmResponse shapes it. Root-only fields
 * (instancename, the host a VM runs on) are left out for other callers (R4), and details on
 * the user.vm.blacklisted.details list are hidden from non-admins (R30).
 */
import type { Statement } from 'better-sqlite3';
import type { Engine } from '../engine.js';
import type { Db } from '../db/database.js';
import type { ApiObject, Caller } from '../registry/types.js';
import { csDate } from '../format.js';
import type { VmRow } from './rows.js';
import { TRANSIENT_STATES } from './states.js';

interface Joined {
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
SELECT a.name AS account, d.name AS domain, d.uuid AS domainuuid, z.uuid AS zoneuuid, z.name AS zonename,
       h.uuid AS hostuuid, h.name AS hostname, p.uuid AS poduuid, c.uuid AS clusteruuid,
       t.uuid AS templateuuid, t.name AS templatename, t.display_text AS templatedisplaytext, i.uuid AS isouuid, i.name AS isoname,
       s.uuid AS offeringuuid, s.name AS offeringname, g.uuid AS osuuid, g.display_name AS osname, u.username, u.uuid AS useruuid
FROM vm_instances v
JOIN accounts a ON a.id=v.account_id JOIN domains d ON d.id=v.domain_id JOIN zones z ON z.id=v.zone_id
LEFT JOIN hosts h ON h.id=v.host_id LEFT JOIN pods p ON p.id=v.pod_id LEFT JOIN clusters c ON c.id=v.cluster_id
LEFT JOIN templates t ON t.id=v.template_id LEFT JOIN templates i ON i.id=v.iso_id
JOIN service_offerings s ON s.id=v.service_offering_id JOIN guest_os g ON g.id=v.os_type_id JOIN users u ON u.id=v.user_id
WHERE v.id=?`;

interface NicRow {
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

/** The per-VM statements, prepared once per database: listing 10,000 VMs runs each 10,000 times. */
interface Statements {
  joined: Statement<[number], Joined>;
  details: Statement<[number], { name: string; value: string }>;
  nics: Statement<[number], NicRow>;
  affinity: Statement<[number], ApiObject>;
  root: Statement<[number], { device_id: number }>;
  pending: Statement<[string], { uuid: string }>;
}

const cache = new WeakMap<Db, Statements>();

function statements(db: Db): Statements {
  let s = cache.get(db);
  if (!s) {
    s = {
      joined: db.prepare(JOIN_SQL),
      details: db.prepare('SELECT name, value FROM vm_details WHERE vm_id=? AND display=1 ORDER BY name'),
      nics: db.prepare(
        `SELECT n.uuid, n.mac_address, n.ip4_address, n.is_default, n.device_id, w.uuid AS networkid, w.name AS networkname, w.guest_type, w.vlan, w.gateway, w.netmask
         FROM nics n JOIN networks w ON w.id=n.network_id WHERE n.vm_id=? AND n.removed IS NULL ORDER BY n.device_id`,
      ),
      affinity: db.prepare('SELECT g.uuid AS id, g.name, g.type, g.description FROM affinity_groups g JOIN affinity_group_vms m ON m.group_id=g.id WHERE m.vm_id=? ORDER BY g.name'),
      root: db.prepare(`SELECT device_id FROM volumes WHERE vm_id=? AND volume_type='ROOT' AND removed IS NULL`),
      pending: db.prepare('SELECT uuid FROM async_jobs WHERE instance_uuid=? AND status=0 ORDER BY id DESC LIMIT 1'),
    };
    cache.set(db, s);
  }
  return s;
}

export function vmResponse(engine: Engine, vm: VmRow, caller: Caller): ApiObject {
  const q = statements(engine.db);
  const j = q.joined.get(vm.id)!;
  const isRoot = caller.role === 'Admin';
  const isAdmin = caller.role !== 'User';
  const hidden = new Set(isAdmin ? [] : engine.settings.list('user.vm.blacklisted.details'));
  const details = Object.fromEntries(
    q.details
      .all(vm.id)
      .filter((d) => !hidden.has(d.name))
      .map((d) => [d.name, d.value]),
  );
  const nics = q.nics.all(vm.id).map((n) => ({
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
  const affinity = q.affinity.all(vm.id);
  const root = q.root.get(vm.id);
  const pending = TRANSIENT_STATES.includes(vm.state) ? q.pending.get(vm.uuid) : undefined;

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
  if (isRoot) out['instancename'] = vm.internal_name;
  if (pending) {
    out['jobid'] = pending.uuid;
    out['jobstatus'] = 0;
  }
  return out;
}
