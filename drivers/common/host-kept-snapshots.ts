/**
 * The SnapshotFacet of a hypervisor that keeps a VM's snapshot records with the host, by name,
 * rather than with the disks: libvirt (the KVM driver), and the simulator, which models libvirt.
 * A snapshot's ref is its name, and no hypervisor task runs it; because the records stay on the
 * host, the facet has carry (SnapshotFacet.carry): the host a VM came to learns its snapshots.
 * The driver's session holds the operations; this is how they answer the contract.
 */
import type { Ref, SnapshotFacet, SnapshotInfo, SnapshotRequest } from '../types.js';

export interface HostKeptSnapshots {
  createSnapshot(vm: Ref, snapshot: SnapshotRequest): Promise<void>;
  listSnapshots(vm: Ref): Promise<SnapshotInfo[]>;
  revertSnapshot(vm: Ref, snapshot: string): Promise<void>;
  deleteSnapshot(vm: Ref, snapshot: string): Promise<void>;
  /** Defines SNAPSHOTS (parents before children) from their SnapshotInfo.metadata on this host; CURRENT becomes the current one. */
  importSnapshots(vm: Ref, snapshots: { name: string; metadata: string }[], current?: string): Promise<void>;
}

export function hostKeptSnapshots(host: HostKeptSnapshots): SnapshotFacet {
  return {
    create: async (vm, snapshot) => {
      await host.createSnapshot(vm, snapshot);
      return { ref: snapshot.name };
    },
    list: (vm) => host.listSnapshots(vm),
    revert: (vm, snapshot) => host.revertSnapshot(vm, snapshot),
    remove: (vm, snapshot) => host.deleteSnapshot(vm, snapshot),
    carry: (vm, snapshots, current) => host.importSnapshots(vm, snapshots, current),
  };
}
