/**
 * The simulator's volume facet: a data disk joins or leaves a simulated domain's definition (the
 * spec it was defined with) and lives on in the shared storage (SimulatorWorld.disks) until
 * deleteDisks. It refuses what a real host refuses: a disk the domain already has, one that is
 * not in storage (unless it is to be created), a detach of a disk the domain lacks, and a smaller
 * size without `shrink`.
 */
import { DriverError, type VolumeDisk, type VolumeFacet } from '../types.js';
import type { SimDomain, SimulatorWorld } from './world.js';

/** What the facet needs of its session: the domain by name (throws for a missing one or a host that is down), storage, and the fault hook. */
export interface SimVolumeHost {
  domain(name: string): SimDomain;
  readonly world: SimulatorWorld;
  /** Throws the test's injected 'volume' fault, if one is armed for this host. */
  fault(): void;
}

export function simulatorVolumes(host: SimVolumeHost): VolumeFacet {
  const save = () => host.world.save();
  const inStorage = (disk: VolumeDisk) => host.world.disks[disk.name] !== undefined;
  return {
    async attach(vm, disk, options) {
      const domain = host.domain(vm);
      host.fault();
      if (domain.spec.disks.some((d) => d.name === disk.name)) throw new DriverError(`domain ${vm} already has disk ${disk.name}`, 'invalid');
      if (!options.create && !inStorage(disk)) throw new DriverError(`disk ${disk.name} not found in the shared storage`, 'not-found');
      if (options.create) host.world.disks[disk.name] ??= '';
      domain.spec.disks.push({ name: disk.name, sizeBytes: disk.sizeBytes, device: 'disk', ...(disk.bus ? { bus: disk.bus } : {}), ...(disk.pool ? { pool: disk.pool } : {}) });
      save();
      return { ref: disk.name };
    },
    async detach(vm, disk) {
      const domain = host.domain(vm);
      host.fault();
      const index = domain.spec.disks.findIndex((d) => d.name === disk.name);
      if (index < 0) throw new DriverError(`domain ${vm} has no disk ${disk.name}`, 'not-found');
      domain.spec.disks.splice(index, 1);
      save();
    },
    async resize(disk, sizeBytes, options) {
      const attached = options.vm !== undefined ? host.domain(options.vm).spec.disks.find((d) => d.name === disk.name) : undefined;
      host.fault();
      if (options.vm !== undefined && !attached) throw new DriverError(`domain ${options.vm} has no disk ${disk.name}`, 'not-found');
      if (!inStorage(disk)) throw new DriverError(`disk ${disk.name} not found in the shared storage`, 'not-found');
      const current = attached?.sizeBytes ?? disk.sizeBytes;
      if (sizeBytes < current && !options.shrink) throw new DriverError(`disk ${disk.name} would shrink from ${current} to ${sizeBytes} bytes; shrinking needs shrink`, 'invalid');
      if (attached) attached.sizeBytes = sizeBytes;
      save();
    },
  };
}
