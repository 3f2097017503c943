/**
 * The `nas` provider, after CloudStack 4.20's NAS provider: full and incremental backups of each
 * volume, through the hypervisor's backup facet (drivers/types.ts BackupFacet; KVM has one), into
 * one of two stores, as the VM's offering says:
 *
 * - `host-store`: the backup store of the host the VM runs on (or last ran on). A restore runs on
 *   the host that holds the backup, so the VM's disks must be visible there.
 * - a backup repository (repositories.ts; the offering's external id is its uuid): a store on a
 *   backup host over SSH. The VM's host streams into it and restores from it; any host that sees
 *   the VM's disks can restore.
 *
 * Store directories are the driver's, never a path a user names. Hypervisors without the facet
 * (vSphere and XenServer today) refuse, saying so: their zones use the dummy provider.
 */
import { requireFacet, type BackupDiskFile, type BackupFacet, type BackupStoreSpec } from '../../../../drivers/types.js';
import type { Engine } from '../../engine.js';
import type { BackupProvider, RestoreWork } from '../provider.js';
import { backedUpVolumes, type BackedUpVolume, type BackupRow } from '../rows.js';
import { offeringById } from '../records.js';
import { repositoriesOf, storeOfOffering } from '../repositories.js';
import { ApiError } from '../../registry/errors.js';
import { vmRef, type VmRow } from '../../vm/rows.js';

/** The backup facet of a host, or the refusal that names what is missing. */
async function facetOn(engine: Engine, hostId: number | null): Promise<BackupFacet> {
  if (hostId === null) throw ApiError.param('virtualmachineid: the VM has never run on a host, so no host holds its disks to back up');
  return requireFacet(await engine.hosts.session(hostId), 'backup', 'backups (the zone should use the dummy backup provider)');
}

function diskFile(volume: BackedUpVolume): BackupDiskFile {
  return { name: volume.path, file: volume.file ?? '', bytes: volume.written ?? 0, virtualSize: volume.size, checksum: volume.checksum ?? '' };
}

function storeOf(engine: Engine, backup: BackupRow): BackupStoreSpec | undefined {
  return storeOfOffering(engine, offeringById(engine, backup.offering_id));
}

/**
 * The host a restore of CHAIN runs on: the one that holds the backup in its own store, or, for a
 * repository, the one that sees the disks written (the VM's host, else the one the backup ran on).
 */
function restoreHost(work: RestoreWork, store: BackupStoreSpec | undefined): number | null {
  const last = work.chain[work.chain.length - 1]!;
  return store ? (work.vm.host_id ?? work.vm.last_host_id ?? last.host_id) : last.host_id;
}

/** The files of one volume (by position) along a chain, the full first. */
function volumeChain(work: RestoreWork, deviceId: number): BackupDiskFile[] {
  return work.chain.map((backup) => {
    const volume = backedUpVolumes(backup).find((v) => v.deviceId === deviceId);
    if (!volume?.file) throw new ApiError(530, `backup ${backup.name} holds no file for the volume at device ${deviceId}; the chain is broken`);
    return diskFile(volume);
  });
}

/** What a whole-VM restore renames (BackupProvider.finishRestore): the disks on the host that wrote them. */
interface RestorePlan {
  hostId: number;
  targets: { name: string; pool?: string }[];
}

/** The VM's definition lives where it last ran; its checkpoints there describe disks a restore replaced. */
async function forgetRestoredCheckpoints(engine: Engine, vm: VmRow): Promise<void> {
  const home = vm.host_id ?? vm.last_host_id;
  if (home !== null) await (await facetOn(engine, home)).forgetCheckpoints(vmRef(vm)).catch(() => undefined);
}

export const nasProvider: BackupProvider = {
  name: 'nas',
  description: "Backups of each volume (full, then incremental with libvirt checkpoints) into the backup store of the VM's host, over SSH; for hypervisors with a backup facet (KVM)",
  async listOfferings(engine, zoneId) {
    return [
      { externalId: 'host-store', name: 'Host backup store', description: "qcow2 backups in the backup store of the VM's own host, full and incremental" },
      ...repositoriesOf(engine, zoneId).map((r) => ({ externalId: r.uuid, name: r.name, description: `qcow2 backups on the backup repository ${r.username}@${r.address.slice('ssh://'.length)}, streamed from the VM's host over SSH, full and incremental` })),
    ];
  },
  async assignVm() {},
  async removeVm() {},

  async takeBackup(work) {
    const hostId = work.vm.host_id ?? work.vm.last_host_id;
    const facet = await facetOn(work.engine, hostId);
    // An incremental builds on the newest backup, when the host still has its checkpoint.
    // (and it is in the same store: the same offering).
    const parent = work.previous && work.previous.host_id === hostId && work.previous.offering_id === work.offering.id && work.previous.external_id?.startsWith('kiln-') ? work.previous : undefined;
    const result = await facet.create(
      vmRef(work.vm),
      {
        id: work.backup.uuid,
        vmId: work.vm.uuid,
        disks: work.volumes.map((v) => ({ name: v.path ?? work.engine.hosts.volumeName(work.vm.hypervisor, v.uuid), pool: v.pool ?? undefined })),
        parent: parent ? { id: parent.uuid, checkpoint: parent.external_id ?? undefined } : undefined,
        quiesce: work.quiesce,
        store: storeOfOffering(work.engine, work.offering),
      },
      work.options,
    );
    const volumes: BackedUpVolume[] = work.volumes.map((v, i) => {
      const file = result.disks[i]!;
      return { uuid: v.uuid, type: v.volume_type, deviceId: v.device_id, path: file.name, size: file.virtualSize, file: file.file, written: file.bytes, checksum: file.checksum };
    });
    return {
      externalId: result.checkpoint ?? `${result.method}:${work.backup.uuid}`,
      type: result.mode === 'incremental' ? 'INCREMENTAL' : 'FULL',
      parentId: result.mode === 'incremental' ? parent?.id : undefined,
      size: volumes.reduce((sum, v) => sum + (v.written ?? 0), 0),
      protectedSize: volumes.reduce((sum, v) => sum + v.size, 0),
      volumes,
      hostId: hostId ?? undefined,
    };
  },

  async restoreVm(work) {
    const last = work.chain[work.chain.length - 1]!;
    const store = storeOf(work.engine, last);
    const hostId = restoreHost(work, store);
    const facet = await facetOn(work.engine, hostId);
    const disks = backedUpVolumes(last).map((volume) => {
      const row = work.engine.db.prepare('SELECT path, pool FROM volumes WHERE uuid=? AND removed IS NULL').get(volume.uuid) as { path: string; pool: string | null } | undefined;
      return { chain: volumeChain(work, volume.deviceId), target: { name: row?.path ?? volume.path, pool: row?.pool ?? undefined } };
    });
    // Every disk is written aside first and renamed over its target last (restoreDisks); the
    // renames' plan is recorded before the first one, so a restore cut short during them is finished.
    const plan: RestorePlan = { hostId: hostId!, targets: disks.map((d) => d.target) };
    await facet.restoreDisks(disks, work.options, store, () => work.beforeRenames?.(JSON.stringify(plan)));
    await forgetRestoredCheckpoints(work.engine, work.vm);
  },

  async finishRestore(engine, _backup, vm, planText) {
    const plan = JSON.parse(planText) as RestorePlan;
    await (await facetOn(engine, plan.hostId)).finishRestore(plan.targets);
    await forgetRestoredCheckpoints(engine, vm);
  },

  async restoreVolume(work, volume, diskName) {
    const last = work.chain[work.chain.length - 1]!;
    const store = storeOf(work.engine, last);
    const hostId = restoreHost(work, store);
    const facet = await facetOn(work.engine, hostId);
    const original = work.engine.db.prepare('SELECT pool FROM volumes WHERE uuid=?').get(volume.uuid) as { pool: string | null } | undefined;
    const target = { name: diskName, pool: original?.pool ?? undefined };
    const chain = volumeChain(work, volume.deviceId);
    // Recorded before the first write: a host cut off during it keeps what it wrote only until it answers again.
    work.beforeWrites?.(hostId!, target);
    const [restored] = await facet.restoreDisks([{ chain, target }], work.options, store);
    return { size: restored!.virtualSize, written: true, hostId: hostId ?? undefined };
  },

  async discardVolumeRestore(engine, hostId, target) {
    // The writer and its copy first (discardRestore finds the copy beside the disk), then the disk.
    await (await facetOn(engine, hostId)).discardRestore([target]);
    await (await engine.hosts.session(hostId)).deleteDisks([target.name]);
  },

  async discardRestore(engine, backup, vm) {
    // One whose renames began (its VM expunged before they were finished): the disks of its plan.
    if (backup.restore_plan) {
      const plan = JSON.parse(backup.restore_plan) as RestorePlan;
      await (await facetOn(engine, plan.hostId)).discardRestore(plan.targets);
      return;
    }
    const store = storeOf(engine, backup);
    const hostId = store ? (vm.host_id ?? vm.last_host_id ?? backup.host_id) : backup.host_id;
    // An expunged VM's volumes are removed rows, their copies aside still where the disks were.
    const volumes = engine.db.prepare(`SELECT path, pool FROM volumes WHERE vm_id=? AND path IS NOT NULL AND (removed IS NULL OR state='Expunged')`).all(vm.id) as { path: string; pool: string | null }[];
    await (await facetOn(engine, hostId)).discardRestore(volumes.map((v) => ({ name: v.path, pool: v.pool ?? undefined })));
  },

  async deleteBackup(engine, backup, child) {
    const facet = await facetOn(engine, backup.host_id);
    const vm = engine.vms.get(backup.vm_id);
    if (child) {
      // The incremental built on this backup takes in its data first (and the grandparent's link, if any).
      const grand = backup.parent_id !== null ? (engine.db.prepare('SELECT * FROM backups WHERE id=?').get(backup.parent_id) as BackupRow) : undefined;
      const merged = backedUpVolumes(child).map((volume) => ({ volume, parent: backedUpVolumes(backup).find((v) => v.deviceId === volume.deviceId) }));
      const volumes: BackedUpVolume[] = [];
      for (const { volume, parent } of merged) {
        if (!parent?.file || !volume.file) throw new ApiError(530, `backup ${backup.name} and ${child.name} do not hold the same volumes; cannot merge them`);
        const grandVolume = grand ? backedUpVolumes(grand).find((v) => v.deviceId === volume.deviceId) : undefined;
        const file = await facet.merge(diskFile(parent), diskFile(volume), grandVolume ? diskFile(grandVolume) : undefined, storeOf(engine, backup));
        volumes.push({ ...volume, written: file.bytes, checksum: file.checksum });
      }
      engine.db.prepare('UPDATE backups SET volumes=?, size=? WHERE id=?').run(JSON.stringify(volumes), volumes.reduce((s, v) => s + (v.written ?? 0), 0), child.id);
    }
    const home = vm.host_id ?? vm.last_host_id;
    await facet.remove(vm.uuid, backup.uuid, home === backup.host_id && backup.external_id?.startsWith('kiln-') ? { ref: vmRef(vm), checkpoint: backup.external_id } : undefined, storeOf(engine, backup));
  },

  async inspect(engine, backup) {
    const facet = await facetOn(engine, backup.host_id);
    const seen = await facet.inspect(engine.vms.get(backup.vm_id).uuid, backup.uuid, storeOf(engine, backup));
    return { present: seen.present, size: seen.bytes };
  },

  async discardInterrupted(engine, backup) {
    const vm = engine.vms.get(backup.vm_id);
    const hostId = vm.host_id ?? vm.last_host_id;
    if (hostId === null) return;
    await (await facetOn(engine, hostId)).discard(vm.uuid, backup.uuid, vmRef(vm), storeOf(engine, backup));
  },
};
