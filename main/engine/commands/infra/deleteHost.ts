import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError, ErrorCode, toApiError } from '../../registry/errors.js';
import type { CommandDef } from '../../registry/types.js';
import type { Args } from '../../registry/params.js';
import type { Engine } from '../../engine.js';
import { JobStatus } from '../../jobs.js';
import { vmJob } from '../../vm/vm-job.js';
import type { VmRow } from '../../vm/rows.js';
import { volumesOf } from '../volumes/volumes-of.js';
import { SETTLED_VOLUME_STATES, type VolumeState } from '../../volumes/volume-states.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import type { HostRow } from '../../hosts/host-manager.js';
import { someNames } from './infra-edits.js';

/**
 * CloudStack's deleteHost (ResourceManagerImpl.doDeleteHost / deleteRoutingHost) for what Kiln has.
 * CloudStack deletes a host in Maintenance (or Degraded) and any other only with forced=true; Kiln
 * has no host maintenance (no prepareHostForMaintenance), so its stand-in is the resource state
 * Disabled (updateHost allocationstate=Disable: no new VM is placed there). VMs Kiln has on the
 * host (any state with the host set: Running, Starting, Stopping, Migrating) refuse the delete even
 * when forced: CloudStack's forced stops them or has HA restart them, a delete here does neither.
 *
 * Volumes on the host's local storage refuse it too, unless forcedestroylocalstorage=true (default
 * false here; CloudStack's is true, but a delete that destroys VMs by default is not one an admin
 * expects from a desktop manager): then, as CloudStack's deleteRoutingHost does, every VM with a
 * volume there is destroyed, and expunged here (its local pool goes, so nothing could recover it),
 * each one as a destroyVirtualMachine expunge=true job in the VM's own queue, through the normal
 * path (a running one is stopped, forced, first; its disks are removed on the host, its events
 * written, its resource counts decremented; its data volumes on the local storage go with it, those
 * elsewhere stay, detached), and the detached volumes left there are deleted as deleteVolume does.
 * Every refusal comes before the first destroy; a destroy that fails stops there: the host stays,
 * the VMs done are gone, the failed one is settled by its job (Error), and the 530 says which.
 *
 * A delete that is not refused, in one transaction: the host row is marked removed (its URL free
 * again for addHost), its GPU rows go, its local pools' records are removed, and so are its
 * cluster's pools when it was the cluster's last host (unless volumes are recorded on them, which
 * then keep the cluster from being deleted). Then its session is dropped (engine.hosts.drop).
 */
export default defineCommand({
  name: 'deleteHost',
  description:
    'Deletes a host. Kiln has no host maintenance: a host is deleted when it is Disabled (updateHost allocationstate=Disable, Kiln\'s stand-in for CloudStack\'s Maintenance) or with forced=true. Refused (431, naming them) while VMs are on it, forced or not, and while volumes are on its local storage unless forcedestroylocalstorage=true; its local pools\' records go with it, and its cluster\'s when it was the last host.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the host ID' },
    { name: 'forced', type: 'boolean', description: 'delete the host although it is not Disabled (CloudStack: not in Maintenance). VMs on it still refuse the delete: stop or migrate them first' },
    {
      name: 'forcedestroylocalstorage',
      type: 'boolean',
      description:
        'destroy and expunge every VM with a volume on the host\'s local storage (running ones are stopped first; their data volumes there go with them), and delete the detached volumes there, before the host is deleted. Default false (CloudStack\'s is true): volumes there refuse the delete, naming them',
    },
  ],
  async handler(ctx, args) {
    const { engine, caller } = ctx;
    const db = engine.db;
    const host = byUuid<HostRow>(db, 'host', args.uuid('id')!, 'id');
    const forced = args.bool('forced') === true;
    const destroyLocal = args.bool('forcedestroylocalstorage') === true;
    const localVolumes = () =>
      db
        .prepare(`SELECT v.id, v.uuid, v.name, v.state, v.volume_type AS type, v.vm_id AS vmId, vm.display_name AS vm FROM volumes v JOIN storage_pools p ON p.id=v.pool_id LEFT JOIN vm_instances vm ON vm.id=v.vm_id WHERE p.host_id=? AND p.removed IS NULL AND v.removed IS NULL ORDER BY v.id`)
        .all(host.id) as LocalVolume[];
    /** Every refusal, before anything is written (and again in the delete's transaction: a VM may have come meanwhile). */
    const refuse = (local: LocalVolume[]) => {
      if (host.resource_state !== 'Disabled' && !forced) {
        throw ApiError.param(`forced: host ${host.name} is ${host.resource_state} and ${host.state}; Kiln deletes a Disabled host (updateHost allocationstate=Disable, its stand-in for CloudStack's Maintenance), or give forced=true`);
      }
      // A VM with a disk on the local storage is named with its volumes: stopping it would not do.
      const onLocal = new Set(local.map((v) => v.vmId).filter((id): id is number => id !== null));
      const onHost = db.prepare(`SELECT id, display_name FROM vm_instances WHERE host_id=? AND removed IS NULL AND state<>'Expunged' ORDER BY id`).all(host.id) as { id: number; display_name: string }[];
      const vms = onHost.filter((vm) => !onLocal.has(vm.id)).map((vm) => vm.display_name);
      const parts: string[] = [];
      const hints: string[] = [];
      if (vms.length > 0) {
        parts.push(`${vms.length} ${vms.length === 1 ? 'VM' : 'VMs'} (${someNames(vms)})${destroyLocal && onLocal.size ? ' with no volume on its local storage' : ''}`);
        hints.push(`stop or migrate ${vms.length === 1 ? 'it' : 'them'} first`);
      }
      if (local.length > 0 && !destroyLocal) {
        const owners = [...new Set(local.map((v) => v.vm).filter((vm): vm is string => vm !== null))];
        parts.push(`${local.length} ${local.length === 1 ? 'volume' : 'volumes'} (${someNames(local.map((v) => v.name))})${owners.length ? ` of ${owners.length === 1 ? 'VM' : 'VMs'} ${someNames(owners)}` : ''} on its local storage`);
        hints.push(`give forcedestroylocalstorage=true to ${owners.length ? `destroy and expunge ${owners.length === 1 ? 'that VM' : 'those VMs'}` : `delete ${local.length === 1 ? 'it' : 'them'}`} with the host`);
      }
      if (parts.length) throw ApiError.param(`id: host ${host.name} cannot be deleted: it still has ${parts.join(' and ')}; ${hints.join('; ')}`);
    };

    const local = localVolumes();
    const doomed = destroyLocal ? doomedVms(engine, local) : [];
    refuse(local);
    if (destroyLocal) {
      const busy = doomed.filter((vm) => !DESTROY_FROM.includes(vm.state));
      if (busy.length) throw ApiError.param(`forcedestroylocalstorage: host ${host.name}: ${busy.map((vm) => `VM ${vm.display_name} is ${vm.state}`).join(', ')}; wait for ${busy.length === 1 ? 'its job' : 'their jobs'} to end, then delete the host again`);
      const unsettled = local.filter((v) => v.vmId === null && !SETTLED_VOLUME_STATES.includes(v.state as VolumeState));
      if (unsettled.length) throw ApiError.param(`forcedestroylocalstorage: host ${host.name}: ${unsettled.map((v) => `volume ${v.name} is ${v.state}`).join(', ')}; wait until ${unsettled.length === 1 ? 'it is' : 'they are'} ${SETTLED_VOLUME_STATES.join(' or ')}`);
    }

    // The VMs with a disk there, one destroyVirtualMachine expunge=true job each, one after another.
    const expunged: string[] = [];
    for (const vm of doomed) {
      const deleteWith = local.filter((v) => v.vmId === vm.id && v.type === 'DATADISK').map((v) => v.id);
      const work = vmJob(ctx, vm, async (jobUuid) => {
        let current = engine.vms.get(vm.id);
        if (!DESTROY_FROM.includes(current.state)) throw ApiError.param(`VM ${current.display_name} is ${current.state} now; it was not destroyed`);
        // The VM goes for good: a forced stop, which marks it Stopped even when its host cannot be told.
        if (current.state === 'Running' || current.state === 'Unknown') current = await engine.vms.stop(caller, current, true, jobUuid);
        if (current.state === 'Destroyed') return engine.vms.expunge(caller, current, jobUuid);
        return engine.vms.destroy(caller, current, { expunge: true, volumeIds: deleteWith.filter((id) => engine.db.prepare('SELECT 1 FROM volumes WHERE id=? AND vm_id=? AND removed IS NULL').get(id, vm.id)) }, jobUuid);
      });
      const params = { id: vm.uuid, expunge: 'true', ...(deleteWith.length ? { volumeids: local.filter((v) => deleteWith.includes(v.id)).map((v) => v.uuid).join(',') } : {}), deletehost: host.uuid };
      const jobId = engine.jobs.submit(caller, { name: 'destroyVirtualMachine', response: 'virtualmachine', sensitive: [] } as unknown as CommandDef, { toJSON: () => params } as unknown as Args, work);
      const job = await engine.jobs.wait(jobId, 3_600_000);
      if (job['jobstatus'] !== JobStatus.SUCCEEDED) {
        const text = String((job['jobresult'] as { errortext?: string } | undefined)?.errortext ?? 'failed');
        const after = db.prepare('SELECT state FROM vm_instances WHERE id=?').pluck().get(vm.id) as string;
        throw new ApiError(
          ErrorCode.INTERNAL_ERROR,
          `host ${host.name} was not deleted: destroying VM ${vm.display_name} (job ${jobId}) failed, the VM is ${after}: ${text}${expunged.length ? `; ${expunged.length === 1 ? 'VM' : 'VMs'} ${someNames(expunged)} ${expunged.length === 1 ? 'was' : 'were'} destroyed and expunged` : ''}`,
        );
      }
      expunged.push(vm.display_name);
    }
    // The detached volumes left there (those that were detached before, and data disks a destroyed VM's expunge kept).
    const volumes = volumesOf(engine);
    const deleted: string[] = [];
    if (destroyLocal) {
      for (const v of localVolumes().filter((row) => row.vmId === null)) {
        try {
          await volumes.remove(caller, volumes.forCaller(caller, v.uuid));
        } catch (error) {
          const text = toApiError(error).message;
          throw new ApiError(ErrorCode.INTERNAL_ERROR, `host ${host.name} was not deleted: deleting volume ${v.name} on its local storage failed: ${text}${expunged.length ? `; ${expunged.length === 1 ? 'VM' : 'VMs'} ${someNames(expunged)} ${expunged.length === 1 ? 'was' : 'were'} destroyed and expunged` : ''}`);
        }
        deleted.push(v.name);
      }
    }

    db.transaction(() => {
      const left = localVolumes();
      refuse(left);
      if (left.length > 0) throw ApiError.param(`forcedestroylocalstorage: host ${host.name} was not deleted: volumes ${someNames(left.map((v) => v.name))} came to its local storage meanwhile`);
      const at = now();
      db.prepare('UPDATE hosts SET removed=? WHERE id=?').run(at, host.id);
      db.prepare('DELETE FROM host_gpus WHERE host_id=?').run(host.id);
      // Work the host still owed (a definition or disks of a VM expunged while it was away,
      // vm/host-cleanups.ts) can no longer be done by Kiln: forgotten, and the event says so.
      const owed = db.prepare('DELETE FROM host_cleanups WHERE host_id=?').run(host.id).changes;
      db.prepare('UPDATE storage_pools SET removed=? WHERE host_id=? AND removed IS NULL').run(at, host.id);
      const lastHost = !db.prepare('SELECT 1 FROM hosts WHERE cluster_id=? AND removed IS NULL').get(host.cluster_id);
      if (lastHost) {
        db.prepare(`UPDATE storage_pools SET removed=? WHERE cluster_id=? AND host_id IS NULL AND removed IS NULL AND id NOT IN (SELECT pool_id FROM volumes WHERE pool_id IS NOT NULL AND removed IS NULL)`).run(at, host.cluster_id);
      }
      const destroyed = [
        expunged.length ? `${expunged.length === 1 ? 'VM' : 'VMs'} ${expunged.join(', ')} on its local storage destroyed and expunged` : '',
        deleted.length ? `${deleted.length === 1 ? 'volume' : 'volumes'} ${deleted.join(', ')} there deleted` : '',
      ].filter(Boolean);
      engine.events.record({
        type: 'HOST.DELETE',
        description: `host ${host.name} deleted${forced ? ' (forced)' : ''}${destroyed.length ? `; ${destroyed.join(', ')} (forcedestroylocalstorage)` : ''}${owed ? `; ${owed} cleanup(s) it still owed (definitions or disks of expunged VMs left there) are forgotten` : ''}`,
        userId: caller.userId,
        accountId: caller.accountId,
        resourceType: 'Host',
        resourceUuid: host.uuid,
      });
    })();
    // A connect still under way (the start's, a command's) is waited for, so that the session it
    // opens is the one dropped; a new one is refused, the row being removed.
    await engine.hosts.session(host.id).catch(() => undefined);
    await engine.hosts.drop(host.id);
    return {};
  },
});

interface LocalVolume {
  id: number;
  uuid: string;
  name: string;
  state: string;
  type: string;
  vmId: number | null;
  vm: string | null;
}

/** The states a VM is destroyed (or, Destroyed, expunged) from by forcedestroylocalstorage; others are a job's. */
const DESTROY_FROM = ['Running', 'Stopped', 'Created', 'Error', 'Unknown', 'Destroyed'];

/** The VMs with a volume on the host's local storage, in id order. */
function doomedVms(engine: Engine, local: LocalVolume[]): VmRow[] {
  const ids = [...new Set(local.map((v) => v.vmId).filter((id): id is number => id !== null))].sort((a, b) => a - b);
  return ids.map((id) => engine.vms.get(id));
}
