/** Primary storage commands (main/engine/storage): the pools' records, their tags, and disk offerings that carry tags. */
import type { CommandDef } from '../../registry/types.js';
import listStoragePools from './listStoragePools.js';
import updateStoragePool from './updateStoragePool.js';
import createDiskOffering from './createDiskOffering.js';

export const STORAGE_COMMANDS: CommandDef[] = [listStoragePools, updateStoragePool, createDiskOffering];
