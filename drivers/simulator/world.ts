/**
 * The simulator's state: hosts and the domains defined on them, kept in one process-wide
 * "world" so that migration between simulated hosts is a move between two maps, and saved to
 * a JSON file so the demo zone's VMs are still running after Kiln restarts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { PowerState, SnapshotInfo, VmSpec } from '../types.js';

export interface SimDomain {
  spec: VmSpec;
  power: PowerState;
  snapshots: (SnapshotInfo & { spec: VmSpec; power: PowerState; disks?: Record<string, string> })[];
  /** Bumped on each start; lets tests see that start rebuilt the VM and reboot did not. */
  boots: number;
  /** A VM made outside Kiln (addUnmanagedVm): what its guest tools and the platform report of it. */
  foreign?: SimForeign;
}

/** What a simulated host knows of a VM made outside Kiln, beyond its VmSpec. */
export interface SimForeign {
  /** Per NIC, the IPs the guest's tools report (absent: no tools). */
  guestIps?: string[][];
  cpuReservationMhz?: number;
  isTemplate?: boolean;
  /** Disks on storage the host does not offer Kiln (by DiskSpec.name). */
  foreignStorage?: string[];
}

export interface SimHost {
  name: string;
  cpuNumber: number;
  cpuSpeedMhz: number;
  memoryMiB: number;
  up: boolean;
  gpus: { group: string; vgpuType: string; maxCapacity: number }[];
  domains: Record<string, SimDomain>;
  /** A host Kiln does not manage (SimulatorDriver.addExternalHost): the password its "SSH" login takes. */
  externalPassword?: string;
}

interface SavedWorld {
  hosts: Record<string, SimHost>;
  disks?: Record<string, string>;
  images?: Record<string, SimImage>;
  tasks?: Record<string, SimTask>;
}

/**
 * A lifecycle operation run as a platform task (hosts with tasks=1), as vCenter and xapi run
 * them: it outlives the Kiln process that asked, so a new process can reattach to it by ref.
 */
export interface SimTask {
  op: 'start' | 'stop';
  host: string;
  domain: string;
  state: 'running' | 'success' | 'error';
  error?: string;
}

/** An image a host copied from Kiln's image store (stageImage). */
export interface SimImage {
  sha256: string;
  sizeBytes: number;
  format: string;
}

export class SimulatorWorld {
  private hosts: Record<string, SimHost> = {};
  /** Shared primary storage: disk name -> the bytes a guest wrote to it (a string is enough). */
  disks: Record<string, string> = {};
  /** Images staged from Kiln's image store, by the name Kiln gave them. */
  images: Record<string, SimImage> = {};
  /** Platform tasks by ref (SimTask). */
  tasks: Record<string, SimTask> = {};

  constructor(private readonly stateFile?: string) {
    if (stateFile) {
      try {
        const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as SavedWorld;
        this.hosts = saved.hosts ?? {};
        this.disks = saved.disks ?? {};
        this.images = saved.images ?? {};
        this.tasks = saved.tasks ?? {};
      } catch {
        this.hosts = {};
      }
    }
  }

  /** Creates the host on first contact; later contacts keep the saved domains. */
  host(name: string, shape: Omit<SimHost, 'name' | 'domains' | 'up'>): SimHost {
    let host = this.hosts[name];
    if (!host) {
      host = { name, ...shape, up: true, domains: {} };
      this.hosts[name] = host;
      this.save();
    }
    return host;
  }

  find(name: string): SimHost | undefined {
    return this.hosts[name];
  }

  save(): void {
    if (!this.stateFile) return;
    // Owner-only, as every file in the data directory (a fresh temp file each save, so the mode holds).
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ hosts: this.hosts, disks: this.disks, images: this.images, tasks: this.tasks } satisfies SavedWorld), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }
}
