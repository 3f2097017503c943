/** Builds the placement request for an existing VM: its size, offering tags, its volumes' storage tags, owner, OS category. */
import type { Db } from '../db/database.js';
import type { OfferingRow, VmRow } from '../vm/rows.js';
import type { PlacementRequest } from './types.js';
import { vmsStorageNeeds } from '../storage/pool-choice.js';
import { PAGE_IDS } from '../registry/list-page.js';
import { nicPrivateVlan, type NicNetwork } from '../vm/private-vlan-nics.js';

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

/** The first of NETWORKS that is a private VLAN, as the private-vlans filter names it; {} when none is. */
export function privateVlanNeed(networks: readonly NicNetwork[]): Pick<PlacementRequest, 'privateVlan'> {
  for (const n of networks) {
    const pvlan = nicPrivateVlan(n).privateVlan;
    if (pvlan) return { privateVlan: { network: n.network_name, pvlan: `${pvlan.type} ${pvlan.secondaryVlan} of VLAN ${n.vlan}` } };
  }
  return {};
}

export function requestForVm(db: Db, vm: VmRow, overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { ...requestsForVms(db, [vm]).get(vm.id)!, ...overrides };
}

/** requestForVm for several VMs: their offerings, OS categories and storage needs in one statement each (the N−1 what-if of a page of clusters). */
export function requestsForVms(db: Db, vms: readonly VmRow[]): Map<number, PlacementRequest> {
  const offerings = new Map((db.prepare(`SELECT * FROM service_offerings WHERE id ${PAGE_IDS}`).all(JSON.stringify([...new Set(vms.map((v) => v.service_offering_id))])) as OfferingRow[]).map((o) => [o.id, o]));
  const categories = new Map((db.prepare(`SELECT id, category_id FROM guest_os WHERE id ${PAGE_IDS}`).all(JSON.stringify([...new Set(vms.map((v) => v.os_type_id))])) as { id: number; category_id: number }[]).map((r) => [r.id, r.category_id]));
  const storage = vmsStorageNeeds(db, vms.map((v) => v.id));
  const pvlanNics = db
    .prepare(`SELECT n.vm_id, w.name AS network_name, w.vlan, w.isolated_pvlan, w.isolated_pvlan_type FROM nics n JOIN networks w ON w.id=n.network_id WHERE n.vm_id ${PAGE_IDS} AND n.removed IS NULL AND w.isolated_pvlan IS NOT NULL ORDER BY n.vm_id, n.device_id`)
    .all(JSON.stringify(vms.map((v) => v.id))) as (NicNetwork & { vm_id: number })[];
  return new Map(
    vms.map((vm) => {
      const offering = offerings.get(vm.service_offering_id)!;
      return [vm.id, {
        zoneId: vm.zone_id,
        cpuNumber: vm.cpu_number,
        cpuSpeed: vm.cpu_speed,
        memory: vm.memory,
        hostTags: offeringTags(offering),
        accountId: vm.account_id,
        vmId: vm.id,
        osCategoryId: categories.get(vm.os_type_id),
        ...offeringGpu(offering),
        storageNeeds: storage.get(vm.id) ?? [],
        ...privateVlanNeed(pvlanNics.filter((n) => n.vm_id === vm.id)),
      }];
    }),
  );
}
