/**
 * importVm importsource=xva: an exported XenServer VM (an XVA, registered into the zone's image
 * store with registerTemplate format=XVA, so it is a file Kiln holds: downloaded, size-limited,
 * checksummed and checked to be a tar with ova.xml first; never a path a user names) brought into
 * a cluster's pool and taken over. The job has two halves:
 *  1. the driver's ImportFacet.importArchive sends the file to the hypervisor (xapi: PUT /import
 *     under a task) onto storageid's pool (absent: the pool's default SR); the VM appears halted on
 *     the chosen host, named `name`, as a VM Kiln does not manage (listUnmanagedInstances lists it
 *     from then on). A host's local pool is imported into by that host, the VM's home (xapi
 *     redirects such an upload to it; the driver follows);
 *  2. (with serviceofferingid) importUnmanagedInstance's rules and job adopt it (planImport, importWork): offerings, NIC
 *     networks, MACs, disks, the OS. The XVA's registered OS type is the VM's; its template is
 *     Kiln's dummy import template (an XVA cannot be restored to).
 * A bad archive fails half 1 with the hypervisor's error and leaves nothing (xapi cleans up what
 * it made). A refusal in half 2 (a NIC without a network, say) fails the job with its 431 text and
 * leaves the VM in the pool, unmanaged: importUnmanagedInstance takes it over once the call is right.
 */
import { createReadStream } from 'node:fs';
import type { Engine } from '../engine.js';
import type { StoredImage } from '../../../drivers/types.js';
import { ApiError } from '../registry/errors.js';
import type { Args } from '../registry/params.js';
import type { AsyncWork, Caller } from '../registry/types.js';
import { byUuid } from '../lookup.js';
import { requireAccountAccess } from '../vm/access.js';
import type { TemplateRow } from '../vm/rows.js';
import type { HostRow } from '../hosts/host-manager.js';
import { requireImageReady } from '../images/readiness.js';
import { poolState, type StoragePoolRow } from '../storage/pool-records.js';
import { readFileAt } from '../images/staging.js';
import { importFacet, knownMacs, listUnmanaged, unmanagedView, type ClusterRow } from './unmanaged.js';
import { importWork, planImport } from './import-vm.js';

/** STORAGEID's pool (absent: none, the pool's default SR): one of CLUSTER's, Up and enabled. */
function targetPool(db: Engine['db'], cluster: ClusterRow, storageUuid: string | undefined): StoragePoolRow | undefined {
  if (!storageUuid) return undefined;
  const pool = byUuid<StoragePoolRow>(db, 'storagePool', storageUuid, 'storageid');
  if (pool.cluster_id !== cluster.id) throw ApiError.param(`storageid: storage pool ${pool.name} is not in cluster ${cluster.name}`);
  const state = poolState(pool);
  if (state !== 'Up') throw ApiError.param(`storageid: storage pool ${pool.name} is ${state}`);
  return pool;
}

export async function importXva(engine: Engine, caller: Caller, args: Args): Promise<AsyncWork> {
  const db = engine.db;
  const zone = byUuid<{ id: number; name: string }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
  if (args.uuid('projectid')) throw ApiError.param('projectid: Kiln has no projects; import the VM into an account (account and domainid)');
  for (const p of ['diskpath', 'tmppath', 'host', 'username', 'password', 'privatekey']) {
    if (args.str(p)) throw ApiError.param(`${p}: importsource=xva imports the XVA named by templateid; ${p} is for other sources`);
  }
  const clusterUuid = args.uuid('clusterid');
  if (!clusterUuid) throw ApiError.param('clusterid: importsource=xva needs the cluster (pool) the VM is imported into');
  const cluster = byUuid<ClusterRow>(db, 'cluster', clusterUuid, 'clusterid');
  if (cluster.zone_id !== zone.id) throw ApiError.param(`clusterid: cluster ${cluster.name} is not in zone ${zone.name}`);
  const templateUuid = args.uuid('templateid');
  if (!templateUuid) throw ApiError.param('templateid: importsource=xva needs the XVA, registered with registerTemplate format=XVA');
  const xva = byUuid<TemplateRow>(db, 'template', templateUuid, 'templateid');
  if (xva.format !== 'XVA') throw ApiError.param(`templateid: ${xva.name} is a ${xva.format} image, not an XVA (registerTemplate format=XVA)`);
  if (!xva.is_public) requireAccountAccess(db, caller, xva.account_id, `template ${xva.name}`);
  if (xva.zone_id !== null && xva.zone_id !== zone.id) throw ApiError.param(`templateid: ${xva.name} is not in zone ${zone.name}`);
  requireImageReady(xva, 'templateid');
  if (!xva.store_path || !xva.physical_size) throw ApiError.param(`templateid: ${xva.name} is not in the zone's image store (register it by an http(s) URL)`);
  // Without an offering the job only brings the VM into the pool, for importUnmanagedInstance.
  const adopt = args.uuid('serviceofferingid') !== undefined;
  if (adopt) byUuid(db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid');
  const storage = targetPool(db, cluster, args.uuid('storageid'));
  const hostUuid = args.uuid('hostid');
  // A host's local pool is imported into by that host, which is the VM's home.
  const hostId = storage?.host_id ?? undefined;
  const host = hostUuid
    ? byUuid<HostRow>(db, 'host', hostUuid, 'hostid')
    : hostId !== undefined
      ? (db.prepare('SELECT * FROM hosts WHERE id=?').get(hostId) as HostRow)
      : (db.prepare(`SELECT * FROM hosts WHERE cluster_id=? AND state='Up' AND resource_state='Enabled' AND removed IS NULL ORDER BY id LIMIT 1`).get(cluster.id) as HostRow | undefined);
  if (!host) throw ApiError.capacity(`clusterid: no host of cluster ${cluster.name} is Up and enabled to import into`);
  if (host.cluster_id !== cluster.id) throw ApiError.param(`hostid: host ${host.name} is not in cluster ${cluster.name}`);
  if (storage && hostId !== undefined && host.id !== hostId) throw ApiError.param(`hostid: storage pool ${storage.name} is local storage of another host than ${host.name}; leave hostid out, or name that host`);
  if (hostId !== undefined && (host.state !== 'Up' || host.resource_state !== 'Enabled')) throw ApiError.param(`storageid: storage pool ${storage!.name} is local storage of host ${host.name}, which is ${host.state !== 'Up' ? host.state : host.resource_state}`);
  const session = await engine.hosts.session(host.id);
  const facet = importFacet(session, cluster);
  if (!facet.importArchive) throw ApiError.param(`clusterid: the hypervisor of cluster ${cluster.name} (${cluster.hypervisor}) cannot import VM archives`);
  const name = args.str('name')!;
  if ((await facet.list()).some((i) => i.name === name)) throw ApiError.param(`name: host ${host.name} already has a VM named ${name}; choose another name`);
  if (db.prepare('SELECT 1 FROM vm_instances WHERE (internal_name=? OR instance_name=?) AND removed IS NULL').get(name, name)) throw ApiError.param(`name: Kiln already has a VM whose instance name is ${name}; choose another name`);
  const importArchive = facet.importArchive.bind(facet);
  const archive: StoredImage = {
    name: xva.name, format: 'raw', sizeBytes: xva.physical_size, sha256: xva.sha256 ?? '',
    open: () => createReadStream(xva.store_path!), readAt: (position, length) => readFileAt(xva.store_path!, position, length),
  };
  return {
    instanceType: 'VirtualMachine',
    queueKey: `import-xva:${cluster.id}:${name}`,
    run: async (job) => {
      job.progress(0, `importing XVA ${xva.name} into cluster ${cluster.name} (host ${host.name})`);
      await importArchive(archive, { ...engine.vms.taskOptions(job.uuid), name, ...(storage ? { pool: storage.ref } : {}), onProgress: (p) => job.progress(Math.min(90, p * 0.9), `importing XVA ${xva.name}: ${p}%`) });
      engine.events.record({
        type: 'VM.IMPORT', description: `XVA ${xva.name} imported into cluster ${cluster.name} as VM ${name} on host ${host.name}; taking it over`,
        userId: caller.userId, accountId: caller.accountId, domainId: caller.domainId, jobUuid: job.uuid,
      });
      if (!adopt) {
        const [vm] = await listUnmanaged(engine, cluster, name);
        if (!vm) throw ApiError.internal(`XVA ${xva.name} was imported as VM ${name}, but host ${host.name} does not list it`);
        // The job's result (under importVm's key, virtualmachine) is then the VM as listUnmanagedInstances shows it.
        return unmanagedView(db, cluster, vm, knownMacs(db));
      }
      // The NICs' ids are xapi's new VIF refs, unknown when the call was made: nicnetworklist and
      // nicipaddresslist name a NIC by its device number in the export (0, 1, …), mapped onto its VIF here.
      const listed = (await facet.list()).find((i) => i.name === name);
      for (const list of ['nicnetworklist', 'nicipaddresslist']) {
        for (const entry of args.map(list) ?? []) {
          const vif = listed?.nics.find((n) => n.pciSlot === entry['nic']);
          if (vif) entry['nic'] = vif.id;
        }
      }
      // From here on it is an unmanaged VM of the host: importUnmanagedInstance's rules take it over.
      const plan = await planImport(engine, caller, args);
      plan.template = undefined;
      plan.osTypeId = xva.os_type_id;
      return importWork(engine, caller, plan).run(job);
    },
  };
}
