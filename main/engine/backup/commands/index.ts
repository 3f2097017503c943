/** Every command of the backup framework, for the one registry (commands/index.ts). */
import type { CommandDef } from '../../registry/types.js';
import { listBackupProviders, listBackupProviderOfferings, importBackupOffering, listBackupOfferings, deleteBackupOffering } from './offerings.js';
import { assignVirtualMachineToBackupOffering, removeVirtualMachineFromBackupOffering } from './assignment.js';
import { createBackup, listBackups, restoreBackup, restoreVolumeFromBackupAndAttachToVM, deleteBackup, SPEC_ALIASES } from './backups.js';
import { addBackupRepository, listBackupRepositories, deleteBackupRepository } from './repositories.js';
import { createBackupSchedule, updateBackupSchedule, listBackupSchedule, deleteBackupSchedule, previewBackupSchedule } from './schedules.js';

export const BACKUP_COMMANDS: CommandDef[] = [
  listBackupProviders, listBackupProviderOfferings, importBackupOffering, listBackupOfferings, deleteBackupOffering,
  assignVirtualMachineToBackupOffering, removeVirtualMachineFromBackupOffering,
  createBackup, listBackups, restoreBackup, restoreVolumeFromBackupAndAttachToVM, deleteBackup, ...SPEC_ALIASES,
  createBackupSchedule, updateBackupSchedule, listBackupSchedule, deleteBackupSchedule, previewBackupSchedule,
  addBackupRepository, listBackupRepositories, deleteBackupRepository,
];
