/** Builds the placement request for an existing VM: its size, offering tags, its volumes' storage tags, owner, OS category. */
import type { Db } from '../db/database.js';
import type { OfferingRow, VmRow } from '../vm/rows.js';
import type { PlacementRequest } from './types.js';
import { vmStorageNeeds } from '../storage/pool-choice.js';

export function offeringTags(offering: Pick<OfferingRow, 'host_tags'>): string[] {
  return offering.host_tags.split(',').map((t) => t.trim()).filter(Boolean);
}

export function osCategoryOf(db: Db, osTypeId: number): number | undefined {
  return (db.prepare('SELECT category_id FROM guest_os WHERE id=?').get(osTypeId) as { category_id: number } | undefined)?.category_id;
}

/** The GPU an offering asks for (its pciDevice and vgpuType details), for every placement of it. */
export function offeringGpu(offering: Pick<OfferingRow, 'details'>): Pick<PlacementRequest, 'gpu'> {
  const details = JSON.parse(offering.details) as Record<string, string>;
  const gpuGroup = details['pciDevice'];
  return gpuGroup ? { gpu: { group: gpuGroup, vgpuType: details['vgpuType'] ?? 'passthrough' } } : {};
}

export function requestForVm(db: Db, vm: VmRow, overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  const offering = db.prepare('SELECT * FROM service_offerings WHERE id=?').get(vm.service_offering_id) as OfferingRow;
  return {
    zoneId: vm.zone_id,
    cpuNumber: vm.cpu_number,
    cpuSpeed: vm.cpu_speed,
    memory: vm.memory,
    hostTags: offeringTags(offering),
    accountId: vm.account_id,
    vmId: vm.id,
    osCategoryId: osCategoryOf(db, vm.os_type_id),
    ...offeringGpu(offering),
    storageNeeds: vmStorageNeeds(db, vm.id),
    ...overrides,
  };
}
