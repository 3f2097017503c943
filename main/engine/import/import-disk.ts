/**
 * importVm from a disk image (CloudStack 4.19's importsource=local / shared): a new Kiln VM whose
 * root volume is a disk already in a host's storage pool. The disk is named by its volume name in
 * the pool, never by a path, so no caller can make a host open a file of its choosing; the driver
 * checks the name (ImportFacet.poolDisk). Unlike importUnmanagedInstance there is no hypervisor
 * definition to keep: Kiln builds the VM from its rows, as for a deploy, and starts it on the host;
 * a disk the guest knows on another bus than the driver's default keeps it through the details
 * (details[0].rootDiskController=sata|scsi|ide on KVM; see checkHonouredDetails).
 */
import type { Engine } from '../engine.js';
import { DriverError } from '../../../drivers/types.js';
import { ApiError } from '../registry/errors.js';
import type { Args } from '../registry/params.js';
import type { AsyncWork, Caller } from '../registry/types.js';
import { byUuid } from '../lookup.js';
import { requireAccountAccess } from '../vm/access.js';
import { resolveOwner, resolveResources } from '../vm/deploy-input.js';
import type { NetworkRow, OfferingRow, TemplateRow } from '../vm/rows.js';
import type { HostRow } from '../hosts/host-manager.js';
import { checkHonouredDetails, importFacet } from './unmanaged.js';
import { importTemplate } from './import-template.js';
import { withoutResourceDetails } from './import-vm.js';
import { GiB } from '../format.js';
import { importExternal, NO_DISK_MOVE } from './external.js';
import { planStorageMoves } from '../storage/import-tags.js';
import { importXva } from './import-xva.js';

export const IMPORT_SOURCES = ['external', 'local', 'shared', 'xva'];


export async function importFromDisk(engine: Engine, caller: Caller, args: Args): Promise<AsyncWork> {
  const db = engine.db;
  const source = args.str('importsource')!.toLowerCase();
  if (!IMPORT_SOURCES.includes(source)) throw ApiError.param(`importsource: ${args.str('importsource')} is not one of ${IMPORT_SOURCES.join(', ')}`);
  if (source === 'xva') return importXva(engine, caller, args);
  if (!args.uuid('serviceofferingid')) throw ApiError.param(`serviceofferingid: importsource=${source} needs the VM's service offering`);
  if (source === 'external') return importExternal(engine, caller, args);
  const zone = byUuid<{ id: number; name: string }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
  if (args.uuid('storageid')) throw ApiError.param('storageid: Kiln names no primary storage by id; give hostid, and diskpath as a volume of that host\'s pool');
  const hostUuid = args.uuid('hostid');
  if (!hostUuid) throw ApiError.param(`hostid: importsource=${source} needs the host whose storage pool holds diskpath`);
  const host = byUuid<HostRow>(db, 'host', hostUuid, 'hostid');
  if (host.zone_id !== zone.id) throw ApiError.param(`hostid: host ${host.name} is not in zone ${zone.name}`);
  // Which hypervisors can import a disk image is the driver's import facet (poolDisk, below);
  // a hypervisor given here only has to be the host's own.
  const hypervisor = args.str('hypervisor');
  if (hypervisor && hypervisor.toLowerCase() !== host.hypervisor.toLowerCase()) throw ApiError.param(`hypervisor: host ${host.name} runs ${host.hypervisor}, not ${hypervisor}`);
  const diskName = args.str('diskpath');
  if (!diskName) throw ApiError.param(`diskpath: importsource=${source} needs the disk's volume name in the host's storage pool`);
  const session = await engine.hosts.session(host.id);
  const facet = importFacet(session, { name: host.name });
  if (!facet.poolDisk) throw ApiError.param(`hostid: the hypervisor of host ${host.name} cannot import disk images`);
  let disk;
  try {
    disk = await facet.poolDisk(diskName);
  } catch (error) {
    if (error instanceof DriverError && error.category === 'invalid') throw ApiError.param(`diskpath: ${error.message}`);
    throw error;
  }
  if (!disk) throw ApiError.param(`diskpath: host ${host.name} has no volume ${diskName} in its storage pool`);
  const inKiln = db.prepare(`SELECT v.name FROM volumes v WHERE v.path=? AND v.removed IS NULL`).pluck().get(disk.name) as string | undefined;
  if (inKiln) throw ApiError.param(`diskpath: ${disk.name} is already Kiln's volume ${inKiln}`);
  const usedBy = (await facet.list()).find((i) => i.disks.some((d) => d.imagePath?.endsWith(`/${disk.name}`) || d.imagePath === disk.name));
  if (usedBy) throw ApiError.param(`diskpath: ${disk.name} is a disk of VM ${usedBy.name} on host ${host.name}; import that VM with importUnmanagedInstance instead`);

  const offering = byUuid<OfferingRow>(db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid');
  const details = args.details('details') ?? {};
  checkHonouredDetails(engine.hosts.knownDriver(host.hypervisor)?.detailOptions, details);
  const resources = resolveResources(offering, details);
  let template: TemplateRow | undefined;
  if (args.uuid('templateid')) {
    template = byUuid<TemplateRow>(db, 'template', args.uuid('templateid')!, 'templateid');
    if (template.is_iso) throw ApiError.param(`templateid: ${template.name} is an ISO, not a template`);
    if (!template.is_public) requireAccountAccess(db, caller, template.account_id, `template ${template.name}`);
  }
  const networkUuid = args.uuid('networkid');
  const network = networkUuid
    ? byUuid<NetworkRow>(db, 'network', networkUuid, 'networkid')
    : (db.prepare(`SELECT * FROM networks WHERE zone_id=? AND removed IS NULL AND (account_id IS NULL OR account_id=?) ORDER BY id LIMIT 1`).get(zone.id, caller.accountId) as NetworkRow | undefined);
  if (!network || network.zone_id !== zone.id) throw ApiError.param(`networkid: ${network ? `network ${network.name} is not in zone ${zone.name}` : 'the zone has no network this account can use; pass networkid'}`);
  const owner = resolveOwner(engine, caller, args);
  const name = args.str('name')!;
  // R48: the disk stays in its pool, so that pool must carry the offering's storage tags (the rule importUnmanagedInstance applies).
  const cluster = db.prepare('SELECT id, name FROM clusters WHERE id=?').get(host.cluster_id) as { id: number; name: string };
  await planStorageMoves(engine, { cluster, vm: { host, info: { name, disks: [{ id: disk.name, datastore: disk.pool }] } }, offering, disks: [{ id: disk.name, type: 'ROOT', diskOfferingId: null }] }, false, NO_DISK_MOVE);

  const vm = db.transaction(() => {
    const osTypeId = template?.os_type_id ?? (db.prepare(`SELECT id FROM guest_os WHERE display_name='Other (64-bit)'`).pluck().get() as number | undefined) ?? (db.prepare('SELECT id FROM guest_os ORDER BY id LIMIT 1').pluck().get() as number);
    const image = template ?? importTemplate(engine, osTypeId);
    const allocated = engine.vms.allocate(caller, {
      zoneId: zone.id, offering, template: image, rootDiskSizeGiB: Math.max(1, Math.ceil(disk.capacityBytes / GiB)), networks: [network], name, displayName: args.str('displayname'),
      hostId: host.id, startVm: true, ...resources, haEnabled: offering.offer_ha === 1, dynamicallyScalable: false, owner,
      details: withoutResourceDetails(details),
    });
    // The root volume is the disk that is there, at its own size and in its own pool.
    db.prepare(`UPDATE volumes SET path=?, pool=?, size=?, template_id=NULL WHERE vm_id=? AND volume_type='ROOT'`).run(disk.name, disk.pool, disk.capacityBytes, allocated.id);
    engine.events.record({ type: 'VM.IMPORT', description: `VM ${allocated.display_name} (${allocated.uuid}) made from disk ${disk.name} in pool ${disk.pool} of host ${host.name} (importsource=${source})`, userId: caller.userId, accountId: owner.accountId, domainId: owner.domainId, resourceType: 'VirtualMachine', resourceUuid: allocated.uuid });
    return allocated;
  })();
  return engine.vms.deployWork(caller, vm, true, { hostId: host.id });
}
