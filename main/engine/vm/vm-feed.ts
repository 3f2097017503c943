/**
 * The 'vms' live channel: the changed VM records themselves, not a hint to refetch the list.
 *
 * Every VM change the engine reports marks the VM: a state transition on its bus ('vm', which
 * carries the host, IP and job changes with it), and any event recorded on a VM (an edit without
 * a state change: name, offering, live scale, restore). The batch carries the records of the
 * changed VMs (built once per batch with vmResponses, a constant number of statements however many
 * VMs changed) and the ids of the VMs that are gone. A bulk stop of 100 VMs therefore reaches the
 * UI as a handful of messages carrying the 100 records, and the UI never asks for the list again.
 *
 * Records are shaped for the local admin: the live channel serves the desktop UI only, which
 * always acts as the local admin (main/http/live.ts).
 */
import type { Engine } from '../engine.js';
import { PAGE_IDS } from '../registry/list-page.js';
import type { VmsUpdate } from '../../../preload/api.js';
import { RecordFeed } from '../live/record-feed.js';
import type { VmRow } from './rows.js';
import { vmResponses } from './vm-response.js';

/** One batch of the 'vms' channel: the bridge contract's type. */
export type VmFeedMessage = VmsUpdate;

export class VmFeed extends RecordFeed {
  constructor(engine: Engine) {
    super({
      event: 'vms',
      attach(mark) {
        const onTransition = (change: { id: string }) => mark(change.id);
        // Edits without a state change (name, offering, live scale, restore, snapshots) each record an event on the VM.
        const onEvent = (event: { resourceType?: string; resourceUuid?: string }) => {
          if (event.resourceType === 'VirtualMachine' && event.resourceUuid) mark(event.resourceUuid);
        };
        engine.bus.on('vm', onTransition);
        engine.events.emitter.on('event', onEvent);
        return () => {
          engine.bus.off('vm', onTransition);
          engine.events.emitter.off('event', onEvent);
        };
      },
      build(uuids): VmFeedMessage {
        const rows = engine.db.prepare(`SELECT * FROM vm_instances WHERE uuid ${PAGE_IDS} ORDER BY id`).all(JSON.stringify(uuids)) as VmRow[];
        const live = rows.filter((row) => row.state !== 'Expunged' && row.removed === null);
        const present = new Set(live.map((row) => row.uuid));
        return { changed: vmResponses(engine, live, engine.accounts.localAdmin()), removed: uuids.filter((uuid) => !present.has(uuid)) };
      },
    });
  }
}
