import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { ApiError } from '../../registry/errors.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import { csDate } from '../../format.js';
import type { Db } from '../../db/database.js';
import type { ApiObject } from '../../registry/types.js';
import { TAGS_FILTER_PARAM, tagFilter, tagsForPage } from '../../tags/tag-query.js';
import { queryPage } from '../../registry/list-page.js';

interface VolumeListRow {
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
}

export default defineCommand({
  name: 'listVolumes',
  description: 'Lists volumes: the root and data disks of VMs.',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'volume',
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the disk volume' },
    { name: 'ids', type: 'list', of: 'uuid', description: 'the IDs of the volumes, mutually exclusive with id' },
    { name: 'virtualmachineid', type: 'uuid', description: 'the ID of the virtual machine' },
    { name: 'type', type: 'string', description: 'the type of disk volume (ROOT or DATADISK)' },
    { name: 'name', type: 'string', description: 'the name of the disk volume' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the availability zone' },
    ...ACCOUNT_LIST_PARAMS,
    TAGS_FILTER_PARAM,
  ],
  handler({ engine, caller }, args, page) {
    const type = args.str('type')?.toUpperCase();
    if (type !== undefined && type !== 'ROOT' && type !== 'DATADISK') throw ApiError.param('type: ROOT or DATADISK');
    const scope = accountScope(caller, 'x.account_id');
    const ids = args.list('ids');
    const keyword = args.str('keyword');
    const tags = tagFilter(args.map('tags'), 'Volume', 'x.id');
    // Users do not see the volumes of their destroyed VMs, as they do not see the VMs.
    const w = where(
      [scope.sql, ...(tags ? [tags.sql] : []), 'x.removed IS NULL', ...(caller.role === 'User' ? [`(v.id IS NULL OR v.state NOT IN ('Destroyed','Expunged'))`] : []), ...(ids ? [`x.uuid IN (${ids.map(() => '?').join(',') || "''"})`] : [])],
      [['x.uuid', args.uuid('id')], ['v.uuid', args.uuid('virtualmachineid')], ['x.volume_type', type], ['x.name', args.str('name')], ['x.name', keyword, 'like'], ['z.uuid', args.uuid('zoneid')], ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')]],
    );
    const isAdmin = caller.role === 'Admin';
    return queryPage<VolumeListRow>(
      engine.db,
      page,
      {
        select: `x.id, x.uuid, x.name, x.volume_type, x.device_id, x.size, x.state, x.path, x.pool, x.created, z.uuid AS zoneuuid, z.name AS zonename,
                a.name AS account, d.uuid AS domainuuid, d.name AS domain, v.uuid AS vmuuid, v.hostname AS vmname, v.display_name AS vmdisplayname,
                v.state AS vmstate, v.hypervisor, o.uuid AS offeringuuid, o.name AS offeringname, COALESCE(o.storage_type, s.storage_type) AS storage_type, t.uuid AS templateuuid`,
        from: `FROM volumes x JOIN zones z ON z.id=x.zone_id JOIN accounts a ON a.id=x.account_id JOIN domains d ON d.id=a.domain_id
         LEFT JOIN vm_instances v ON v.id=x.vm_id LEFT JOIN disk_offerings o ON o.id=x.disk_offering_id
         LEFT JOIN service_offerings s ON s.id=v.service_offering_id LEFT JOIN templates t ON t.id=x.template_id
         ${w.sql}`,
        values: [...scope.values, ...(tags?.values ?? []), ...(ids ?? []), ...w.values],
        orderBy: 'x.vm_id, x.device_id, x.id',
      },
      (rows) => volumeResponses(engine.db, rows, isAdmin),
    );
  },
});

function volumeResponses(db: Db, rows: VolumeListRow[], isAdmin: boolean): ApiObject[] {
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
    storagetype: r.storage_type ?? 'shared',
    created: csDate(r.created),
    tags: tagsById.get(r.id) ?? [],
    // Where the disk lives is for the root admin, as in CloudStack.
    ...(isAdmin ? { path: r.path ?? undefined, storage: r.pool ?? undefined } : {}),
  }));
}
