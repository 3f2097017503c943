/**
 * The simulator's state: hosts and the domains defined on them, kept in one process-wide
 * "world" so that migration between simulated hosts is a move between two maps, and saved to
 * a JSON file so the demo zone's VMs are still running after Kiln restarts.
 *
 * The file is one JSON document, rewritten whole (a temp file, then a rename). While it is small
 * that happens at every change, as a host's own state would be written at once. A large world
 * (thousands of domains: 4.5 MB and some 150 ms of blocked event loop per rewrite at 10,000)
 * cannot afford that, so a change that says what it touched (save(['domain', host, name]), …) is
 * appended to a journal next to the file (`simulator.json.log`, one JSON line per change, with
 * the touched entries' new values) before save() returns, and one rewrite (compaction) takes the
 * journal into the document at most every few times as long as a rewrite takes, and at once when
 * the process exits or flush() is called; the journal is emptied after the rename. A process
 * killed outright therefore loses no change save() returned from: the next read applies the
 * journal to the document (a line torn by the kill was never acknowledged and is skipped, and
 * replaying lines the document already holds sets the same values again). A change that does not
 * say what it touched is written by a whole rewrite at once, at any size.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
/** A journalled world waits at least this long, and this many times its last rewrite's duration, between rewrites. */
const WRITE_BEHIND_MIN_MS = 200;
const WRITE_BEHIND_FACTOR = 5;

/** What a change touched, so that the journal can record the entry's new value (or its removal). */
export type WorldChange = ['domain', host: string, name: string] | ['host', name: string] | ['disk', name: string] | ['image', name: string] | ['task', ref: string];

/** A journal line's entries: each touched entry with its value after the change, null when it is gone. */
type JournalEntry =
  | ['domain', string, string, SimDomain | null]
  | ['host', string, Omit<SimHost, 'domains'> | null]
  | ['disk', string, string | null]
  | ['image', string, SimImage | null]
  | ['task', string, SimTask | null];

/** Worlds with changes not yet written: the one exit hook writes them (a hook per world would pile up listeners). */
const pending = new Set<SimulatorWorld>();
let exitHooked = false;

/** The journal that goes with a state file. */
export const journalOf = (stateFile: string): string => `${stateFile}.log`;

export class SimulatorWorld {
  private hosts: Record<string, SimHost> = {};
  /** The size of the file as last read or written: what decides between writing at once and journalling. */
  private fileBytes = 0;
  private lastWriteMs = 0;
  private writeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes in the journal now; a rewrite empties it. */
  private journalBytes = 0;
  /** Rewrites of the file so far (the bench and tests count them). */
  writes = 0;
  /** Lines appended to the journal so far. */
  journalled = 0;
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
      // Taken into the document at once, so that a line torn by a kill never has the next one appended to it.
      if (this.replayJournal(journalOf(stateFile))) this.write();
    }
  }

  /** Applies the journal's changes on top of the document: the ones made since its last rewrite. */
  private replayJournal(file: string): boolean {
    if (!existsSync(file)) return false;
    const text = readFileSync(file, 'utf8');
    this.journalBytes = Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      let entries: JournalEntry[];
      try {
        entries = JSON.parse(line) as JournalEntry[];
      } catch {
        continue; // empty, or torn by a kill while it was written: save() had not returned
      }
      for (const entry of entries) this.apply(entry);
    }
    return this.journalBytes > 0;
  }

  private apply(entry: JournalEntry): void {
    const set = <T>(map: Record<string, T>, key: string, value: T | null) => {
      if (value === null) delete map[key];
      else map[key] = value;
    };
    switch (entry[0]) {
      case 'domain': {
        const host = this.hosts[entry[1]];
        if (host) set(host.domains, entry[2], entry[3]);
        break;
      }
      case 'host':
        if (entry[2] === null) delete this.hosts[entry[1]];
        else this.hosts[entry[1]] = { ...entry[2], domains: this.hosts[entry[1]]?.domains ?? {} };
        break;
      case 'disk':
        set(this.disks, entry[1], entry[2]);
        break;
      case 'image':
        set(this.images, entry[1], entry[2]);
        break;
      case 'task':
        set(this.tasks, entry[1], entry[2]);
        break;
    }
  }

  /** Creates the host on first contact; later contacts keep the saved domains. */
  host(name: string, shape: Omit<SimHost, 'name' | 'domains' | 'up'>): SimHost {
    let host = this.hosts[name];
    if (!host) {
      host = { name, ...shape, up: true, domains: {} };
      this.hosts[name] = host;
      this.save(['host', name]);
    }
    return host;
  }

  find(name: string): SimHost | undefined {
    return this.hosts[name];
  }

  /**
   * Records that the world changed, before it returns: written at once while the file is small;
   * when it is large, the CHANGES are appended to the journal and the rewrite comes behind. A
   * save() that does not say what changed rewrites the file at once at any size.
   */
  save(...changes: WorldChange[]): void {
    if (!this.stateFile) return;
    if ((this.fileBytes < WRITE_AT_ONCE_BYTES && !this.writeTimer) || changes.length === 0) {
      this.flushNow();
      return;
    }
    const line = `${JSON.stringify(changes.map((c) => this.entryOf(c)))}\n`;
    appendFileSync(journalOf(this.stateFile), line, { mode: 0o600 });
    this.journalBytes += Buffer.byteLength(line);
    this.journalled++;
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

  private entryOf(change: WorldChange): JournalEntry {
    switch (change[0]) {
      case 'domain':
        return ['domain', change[1], change[2], this.hosts[change[1]]?.domains[change[2]] ?? null];
      case 'host': {
        const host = this.hosts[change[1]];
        if (!host) return ['host', change[1], null];
        const { domains: _domains, ...own } = host;
        return ['host', change[1], own];
      }
      case 'disk':
        return ['disk', change[1], this.disks[change[1]] ?? null];
      case 'image':
        return ['image', change[1], this.images[change[1]] ?? null];
      case 'task':
        return ['task', change[1], this.tasks[change[1]] ?? null];
    }
  }

  /** Writes the journalled changes into the file now (a process about to stop, a test reading the file). */
  flush(): void {
    if (!this.writeTimer) return;
    this.flushNow();
  }

  private flushNow(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer);
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
    // Only after the rename: a kill before it leaves the old document and the whole journal.
    if (this.journalBytes > 0) {
      writeFileSync(journalOf(this.stateFile!), '', { mode: 0o600 });
      this.journalBytes = 0;
    }
    this.fileBytes = text.length;
    this.lastWriteMs = performance.now() - started;
    this.writes++;
  }
}
