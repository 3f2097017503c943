/**
 * The simulator's state: hosts and the domains defined on them, kept in one process-wide
 * "world" so that migration between simulated hosts is a move between two maps, and saved to
 * a JSON file so the demo zone's VMs are still running after Kiln restarts.
 *
 * The file is one JSON document, rewritten whole (a temp file, then a rename). While it is small
 * that happens at every change, as a host's own state would be written at once. A large world
 * (thousands of domains: 4.5 MB and some 150 ms of blocked event loop per rewrite at 10,000)
 * is written behind instead: changes mark the world, and one rewrite takes them all, at most
 * every few times as long as a rewrite takes, and at once when the process exits or flush() is
 * called. A process killed outright can lose the changes of that last interval, at that size only.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
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

/** Below this file size every change rewrites the file at once (about 5 ms for 1,000 domains). */
export const WRITE_AT_ONCE_BYTES = 512 * 1024;
/** A written-behind world waits at least this long, and this many times its last rewrite's duration, between rewrites. */
const WRITE_BEHIND_MIN_MS = 200;
const WRITE_BEHIND_FACTOR = 5;

/** Worlds with changes not yet written: the one exit hook writes them (a hook per world would pile up listeners). */
const pending = new Set<SimulatorWorld>();
let exitHooked = false;

export class SimulatorWorld {
  private hosts: Record<string, SimHost> = {};
  /** The size of the file as last read or written: what decides between writing at once and behind. */
  private fileBytes = 0;
  private lastWriteMs = 0;
  private writeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Rewrites of the file so far (the bench and tests count them). */
  writes = 0;
  /** Shared primary storage: disk name -> the bytes a guest wrote to it (a string is enough). */
  disks: Record<string, string> = {};
  /** Images staged from Kiln's image store, by the name Kiln gave them. */
  images: Record<string, SimImage> = {};
  /** Platform tasks by ref (SimTask). */
  tasks: Record<string, SimTask> = {};

  constructor(private readonly stateFile?: string) {
    if (stateFile) {
      try {
        const text = readFileSync(stateFile, 'utf8');
        this.fileBytes = text.length;
        const saved = JSON.parse(text) as SavedWorld;
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

  /** Records that the world changed: written at once while the file is small, behind when it is large. */
  save(): void {
    if (!this.stateFile) return;
    if (this.fileBytes < WRITE_AT_ONCE_BYTES && !this.writeTimer) {
      this.write();
      return;
    }
    if (this.writeTimer) return;
    pending.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const world of [...pending]) world.flush();
      });
    }
    this.writeTimer = setTimeout(() => this.flush(), Math.max(WRITE_BEHIND_MIN_MS, WRITE_BEHIND_FACTOR * this.lastWriteMs));
    this.writeTimer.unref?.();
  }

  /** Writes the changes not yet written now (a process about to stop, a test reading the file). */
  flush(): void {
    if (!this.writeTimer) return;
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    pending.delete(this);
    this.write();
  }

  private write(): void {
    const started = performance.now();
    const text = JSON.stringify({ hosts: this.hosts, disks: this.disks, images: this.images, tasks: this.tasks } satisfies SavedWorld);
    // Owner-only, as every file in the data directory (a fresh temp file each save, so the mode holds).
    const tmp = `${this.stateFile!}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.stateFile!);
    this.fileBytes = text.length;
    this.lastWriteMs = performance.now() - started;
    this.writes++;
  }
}
