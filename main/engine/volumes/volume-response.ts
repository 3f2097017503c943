/**
 * The `volume` object as CloudStack's VolumeResponse shapes it, for listVolumes and for the
 * results of the volume commands' jobs: one query, so a job answers exactly what a list shows.
 */
import type { Db } from '../db/database.js';
import type { ApiObject, Caller } from '../registry/types.js';
import { csDate } from '../format.js';
import { tagsForPage } from '../tags/tag-query.js';

export interface VolumeListRow {
  id: number;
  uuid: string;
  name: string;
  volume_type: string;
  device_id: number;
  size: number;
  state: string;
  path: string | null;
  pool: string | null;
  created: string;
  attached: string | null;
  zoneuuid: string;
  zonename: string;
  account: string;
  domainuuid: string;
  domain: string;
  vmuuid: string | null;
  vmname: string | null;
  vmdisplayname: string | null;
  vmstate: string | null;
  hypervisor: string | null;
  offeringuuid: string | null;
  offeringname: string | null;
  storage_type: string | null;
  templateuuid: string | null;
  pooluuid: string | null;
  poolname: string | null;
  poolscope: string | null;
}

/** SELECT list and FROM clause (without WHERE) of a volume with what its response shows. */
export const VOLUME_SELECT = `x.id, x.uuid, x.name, x.volume_type, x.device_id, x.size, x.state, x.path, x.pool, x.created, x.attached, z.uuid AS zoneuuid, z.name AS zonename,
  a.name AS account, d.uuid AS domainuuid, d.name AS domain, v.uuid AS vmuuid, v.hostname AS vmname, v.display_name AS vmdisplayname,
  v.state AS vmstate, COALESCE(v.hypervisor, hc.hypervisor) AS hypervisor, o.uuid AS offeringuuid, o.name AS offeringname, COALESCE(o.storage_type, s.storage_type) AS storage_type, t.uuid AS templateuuid,
  sp.uuid AS pooluuid, sp.name AS poolname, sp.scope AS poolscope`;
export const VOLUME_FROM = `FROM volumes x JOIN zones z ON z.id=x.zone_id JOIN accounts a ON a.id=x.account_id JOIN domains d ON d.id=a.domain_id
  LEFT JOIN vm_instances v ON v.id=x.vm_id LEFT JOIN disk_offerings o ON o.id=x.disk_offering_id
  LEFT JOIN service_offerings s ON s.id=v.service_offering_id LEFT JOIN templates t ON t.id=x.template_id
  LEFT JOIN hosts hc ON hc.id=x.host_id LEFT JOIN storage_pools sp ON sp.id=x.pool_id`;

export function volumeResponses(db: Db, rows: VolumeListRow[], isAdmin: boolean): ApiObject[] {
  const tagsById = tagsForPage(db, 'Volume', rows.map((r) => r.id));
  return rows.map((r) => ({
    id: r.uuid,
    name: r.name,
    type: r.volume_type,
    deviceid: r.vmuuid ? r.device_id : undefined,
    size: r.size,
    state: r.state,
    zoneid: r.zoneuuid,
    zonename: r.zonename,
    account: r.account,
    domainid: r.domainuuid,
    domain: r.domain,
    virtualmachineid: r.vmuuid ?? undefined,
    vmname: r.vmname ?? undefined,
    vmdisplayname: r.vmdisplayname ?? undefined,
    vmstate: r.vmstate ?? undefined,
    hypervisor: r.hypervisor ?? undefined,
    diskofferingid: r.offeringuuid ?? undefined,
    diskofferingname: r.offeringname ?? undefined,
    templateid: r.templateuuid ?? undefined,
    // A disk on a host's local pool (HOST scope) is local storage whatever its offering asked for.
    storagetype: r.poolscope === 'HOST' ? 'local' : r.storage_type ?? 'shared',
    created: csDate(r.created),
    attached: r.vmuuid && r.attached ? csDate(r.attached) : undefined,
    tags: tagsById.get(r.id) ?? [],
    // Where the disk lives is for the root admin, as in CloudStack.
    // storage: the pool record's name once Kiln mapped the disk onto one (pool-sync.ts), else the driver's text.
    ...(isAdmin ? { path: r.path ?? undefined, storage: r.poolname ?? r.pool ?? undefined, storageid: r.pooluuid ?? undefined } : {}),
  }));
}

/** One volume's response, by its row id. */
export function volumeResponse(db: Db, volumeId: number, caller: Caller): ApiObject {
  const row = db.prepare(`SELECT ${VOLUME_SELECT} ${VOLUME_FROM} WHERE x.id=?`).get(volumeId) as VolumeListRow;
  return volumeResponses(db, [row], caller.role === 'Admin')[0]!;
}
