/** Primary storage commands (main/engine/storage): the pools' records, their tags, disk offerings that carry tags, and where a volume may move. */
import type { CommandDef } from '../../registry/types.js';
import listStoragePools from './listStoragePools.js';
import updateStoragePool from './updateStoragePool.js';
import deleteStoragePool from './deleteStoragePool.js';
import createDiskOffering from './createDiskOffering.js';
import findStoragePoolsForMigration from './findStoragePoolsForMigration.js';

export const STORAGE_COMMANDS: CommandDef[] = [listStoragePools, updateStoragePool, deleteStoragePool, createDiskOffering, findStoragePoolsForMigration];
