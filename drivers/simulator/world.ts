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
}

export interface SimHost {
  name: string;
  cpuNumber: number;
  cpuSpeedMhz: number;
  memoryMiB: number;
  up: boolean;
  gpus: { group: string; vgpuType: string; maxCapacity: number }[];
  domains: Record<string, SimDomain>;
}

interface SavedWorld {
  hosts: Record<string, SimHost>;
  disks?: Record<string, string>;
}

export class SimulatorWorld {
  private hosts: Record<string, SimHost> = {};
  /** Shared primary storage: disk name -> the bytes a guest wrote to it (a string is enough). */
  disks: Record<string, string> = {};

  constructor(private readonly stateFile?: string) {
    if (stateFile) {
      try {
        const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as SavedWorld;
        this.hosts = saved.hosts ?? {};
        this.disks = saved.disks ?? {};
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
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ hosts: this.hosts, disks: this.disks } satisfies SavedWorld));
    renameSync(tmp, this.stateFile);
  }
}
