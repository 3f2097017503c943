/**
 * The `nas` provider, after CloudStack 4.20's NAS provider: full and incremental backups of each
 * volume into the backup store of a host of the zone, through the hypervisor's backup facet
 * (drivers/types.ts BackupFacet; KVM has one). The backup target is the host the VM runs on, or
 * last ran on; its store directory is the driver's, never a path a user names. A restore runs
 * on the host that holds the backup, so the VM's disks must be visible there (shared storage, or
 * the same host). Hypervisors without the facet (vSphere and XenServer today) refuse, saying so:
 * their zones use the dummy provider.
 */
import { requireFacet, type BackupDiskFile, type BackupFacet } from '../../../../drivers/types.js';
import type { Engine } from '../../engine.js';
import type { BackupProvider, RestoreWork } from '../provider.js';
import { backedUpVolumes, type BackedUpVolume, type BackupRow } from '../rows.js';
import { ApiError } from '../../registry/errors.js';
import { vmRef } from '../../vm/rows.js';

/** The backup facet of a host, or the refusal that names what is missing. */
async function facetOn(engine: Engine, hostId: number | null): Promise<BackupFacet> {
  if (hostId === null) throw ApiError.param('virtualmachineid: the VM has never run on a host, so no host holds its disks to back up');
  return requireFacet(await engine.hosts.session(hostId), 'backup', 'backups (the zone should use the dummy backup provider)');
}

function diskFile(volume: BackedUpVolume): BackupDiskFile {
  return { name: volume.path, file: volume.file ?? '', bytes: volume.written ?? 0, virtualSize: volume.size, checksum: volume.checksum ?? '' };
}

/** The files of one volume (by position) along a chain, the full first. */
function volumeChain(work: RestoreWork, deviceId: number): BackupDiskFile[] {
  return work.chain.map((backup) => {
    const volume = backedUpVolumes(backup).find((v) => v.deviceId === deviceId);
    if (!volume?.file) throw new ApiError(530, `backup ${backup.name} holds no file for the volume at device ${deviceId}; the chain is broken`);
    return diskFile(volume);
  });
}

export const nasProvider: BackupProvider = {
  name: 'nas',
  description: "Backups of each volume (full, then incremental with libvirt checkpoints) into the backup store of the VM's host, over SSH; for hypervisors with a backup facet (KVM)",
  async listOfferings() {
    return [{ externalId: 'host-store', name: 'Host backup store', description: "qcow2 backups in /var/lib/kiln/backups on the VM's host, full and incremental" }];
  },
  async assignVm() {},
  async removeVm() {},

  async takeBackup(work) {
    const hostId = work.vm.host_id ?? work.vm.last_host_id;
    const facet = await facetOn(work.engine, hostId);
    // An incremental builds on the newest backup, when the host still has its checkpoint.
    const parent = work.previous && work.previous.host_id === hostId && work.previous.external_id?.startsWith('kiln-') ? work.previous : undefined;
    const result = await facet.create(
      vmRef(work.vm),
      {
        id: work.backup.uuid,
        vmId: work.vm.uuid,
        disks: work.volumes.map((v) => ({ name: v.path ?? work.engine.hosts.volumeName(work.vm.hypervisor, v.uuid), pool: v.pool ?? undefined })),
        parent: parent ? { id: parent.uuid, checkpoint: parent.external_id ?? undefined } : undefined,
        quiesce: work.quiesce,
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
    const facet = await facetOn(work.engine, last.host_id);
    for (const volume of backedUpVolumes(last)) {
      const row = work.engine.db.prepare('SELECT path, pool FROM volumes WHERE uuid=? AND removed IS NULL').get(volume.uuid) as { path: string; pool: string | null } | undefined;
      await facet.restoreDisk(volumeChain(work, volume.deviceId), { name: row?.path ?? volume.path, pool: row?.pool ?? undefined }, work.options);
    }
    // The VM's definition lives where it last ran; its checkpoints there describe disks that are gone.
    const home = work.vm.host_id ?? work.vm.last_host_id;
    if (home !== null) await (await facetOn(work.engine, home)).forgetCheckpoints(vmRef(work.vm)).catch(() => undefined);
  },

  async restoreVolume(work, volume, diskName) {
    const last = work.chain[work.chain.length - 1]!;
    const facet = await facetOn(work.engine, last.host_id);
    const original = work.engine.db.prepare('SELECT pool FROM volumes WHERE uuid=?').get(volume.uuid) as { pool: string | null } | undefined;
    const restored = await facet.restoreDisk(volumeChain(work, volume.deviceId), { name: diskName, pool: original?.pool ?? undefined }, work.options);
    return { size: restored.virtualSize, written: true, hostId: last.host_id ?? undefined };
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
        const file = await facet.merge(diskFile(parent), diskFile(volume), grandVolume ? diskFile(grandVolume) : undefined);
        volumes.push({ ...volume, written: file.bytes, checksum: file.checksum });
      }
      engine.db.prepare('UPDATE backups SET volumes=?, size=? WHERE id=?').run(JSON.stringify(volumes), volumes.reduce((s, v) => s + (v.written ?? 0), 0), child.id);
    }
    const home = vm.host_id ?? vm.last_host_id;
    await facet.remove(vm.uuid, backup.uuid, home === backup.host_id && backup.external_id?.startsWith('kiln-') ? { ref: vmRef(vm), checkpoint: backup.external_id } : undefined);
  },

  async inspect(engine, backup) {
    const facet = await facetOn(engine, backup.host_id);
    const seen = await facet.inspect(engine.vms.get(backup.vm_id).uuid, backup.uuid);
    return { present: seen.present, size: seen.bytes };
  },

  async discardInterrupted(engine, backup) {
    const vm = engine.vms.get(backup.vm_id);
    const hostId = vm.host_id ?? vm.last_host_id;
    if (hostId === null) return;
    await (await facetOn(engine, hostId)).discard(vm.uuid, backup.uuid, vmRef(vm));
  },
};
