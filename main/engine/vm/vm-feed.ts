/**
 * The 'vms' live channel: the changed VM records themselves, not a hint to refetch the list.
 *
 * Every VM change the engine reports marks the VM: a state transition on its bus ('vm', which
 * carries the host, IP and job changes with it), and any event recorded on a VM (an edit without
 * a state change: name, offering, live scale, restore). Marks are
 * gathered for a short moment and then sent as one message: the records of the changed VMs
 * (built once per batch with vmResponses, a constant number of statements however many VMs
 * changed) and the ids of the VMs that are gone. A bulk stop of 100 VMs therefore reaches the
 * UI as a handful of messages carrying the 100 records, and the UI never asks for the list again.
 *
 * Records are shaped for the local admin: the live channel serves the desktop UI only, which
 * always acts as the local admin (main/http/live.ts). Nothing is built, and the feed holds no
 * listener on the engine, while nobody listens.
 */
import { EventEmitter } from 'node:events';
import type { Engine } from '../engine.js';
import { PAGE_IDS } from '../registry/list-page.js';
import type { VmsUpdate } from '../../../preload/api.js';
import type { VmRow } from './rows.js';
import { vmResponses } from './vm-response.js';

/** One batch of the 'vms' channel: the bridge contract's type. */
export type VmFeedMessage = VmsUpdate;

/** How long marks gather before a batch goes out: short against a human, long against a burst. */
const BATCH_MS = 60;

export class VmFeed {
  /** Emits 'vms' with a VmFeedMessage; the live hub listens while a UI client subscribes. */
  readonly emitter = new EventEmitter();
  private readonly marked = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  private readonly onTransition = (change: { id: string }) => this.mark(change.id);
  // Edits without a state change (name, offering, live scale, restore, snapshots) each record an event on the VM.
  private readonly onEvent = (event: { resourceType?: string; resourceUuid?: string }) => {
    if (event.resourceType === 'VirtualMachine' && event.resourceUuid) this.mark(event.resourceUuid);
  };

  constructor(private readonly engine: Engine) {
    // The feed listens on the engine only while someone listens on it (the live hub, per subscribed
    // channel), so no UI means no listener and nothing built.
    this.emitter.on('newListener', (event: string) => {
      if (event !== 'vms' || this.emitter.listenerCount('vms') > 0) return;
      engine.bus.on('vm', this.onTransition);
      engine.events.emitter.on('event', this.onEvent);
    });
    this.emitter.on('removeListener', (event: string) => {
      if (event !== 'vms' || this.emitter.listenerCount('vms') > 0) return;
      engine.bus.off('vm', this.onTransition);
      engine.events.emitter.off('event', this.onEvent);
      this.marked.clear();
    });
  }

  /** Marks the VM with this uuid as changed; it goes out with the next batch. */
  mark(uuid: string): void {
    if (this.emitter.listenerCount('vms') === 0) return;
    this.marked.add(uuid);
    this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
    this.timer.unref?.();
  }

  /** Sends the marked VMs now (also what the timer does). */
  flush(): void {
    this.timer = undefined;
    if (this.marked.size === 0) return;
    const uuids = [...this.marked];
    this.marked.clear();
    const rows = this.engine.db.prepare(`SELECT * FROM vm_instances WHERE uuid ${PAGE_IDS} ORDER BY id`).all(JSON.stringify(uuids)) as VmRow[];
    const live = rows.filter((row) => row.state !== 'Expunged' && row.removed === null);
    const present = new Set(live.map((row) => row.uuid));
    const message: VmFeedMessage = {
      changed: vmResponses(this.engine, live, this.engine.accounts.localAdmin()),
      removed: uuids.filter((uuid) => !present.has(uuid)),
    };
    this.emitter.emit('vms', message);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.marked.clear();
  }
}
