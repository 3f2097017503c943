/**
 * CloudStack's dummy provider (plugins/backup/dummy): two offerings, and backups that are only
 * records (FULL, 1,024,000 bytes of 1 GiB protected) so the framework, its commands and the UI
 * can be driven without a backup store. The demo zone, the simulator, and for now the vSphere
 * and XenServer zones use it.
 */
import type { BackupProvider } from '../provider.js';

export const dummyProvider: BackupProvider = {
  name: 'dummy',
  description: 'Dummy Backup and Recovery Plugin: records only, nothing is copied',
  async listOfferings() {
    return [
      { externalId: 'gold-policy', name: 'Golden Policy', description: 'Gold description' },
      { externalId: 'silver-policy', name: 'Silver Policy', description: 'Silver description' },
    ];
  },
  async assignVm() {},
  async removeVm() {},
  async takeBackup(work) {
    return {
      externalId: `dummy-${work.backup.uuid}`,
      type: 'FULL',
      size: 1024000,
      protectedSize: 1024 * 1024 * 1024,
      volumes: work.volumes.map((v) => ({ uuid: v.uuid, type: v.volume_type, deviceId: v.device_id, path: v.path ?? '', size: v.size })),
    };
  },
  async restoreVm() {},
  async restoreVolume(_work, volume) {
    return { size: volume.size, written: false };
  },
  async deleteBackup() {},
};
