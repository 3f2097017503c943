/**
 * The 'events' live channel: the new event records themselves, as listEvents answers them, so
 * that the event log adds them to what it shows instead of loading its page again. Every recorded
 * event marks its uuid; a batch carries the records of the marked events (one query per batch,
 * newest first, as the log lists them). Events are never changed or removed once written, so
 * `removed` stays empty.
 *
 * Records are shaped for the local admin (every account's events): the live channel serves the
 * desktop UI only, which always acts as the local admin (main/http/live.ts), as the 'vms' channel.
 */
import type { EventLog } from '../events.js';
import type { EventsUpdate } from '../../../preload/api.js';
import { RecordFeed } from './record-feed.js';

export class EventFeed extends RecordFeed {
  constructor(events: EventLog) {
    super({
      event: 'events',
      attach(mark) {
        const onEvent = (event: { id: string }) => mark(event.id);
        events.emitter.on('event', onEvent);
        return () => events.emitter.off('event', onEvent);
      },
      build(uuids): EventsUpdate {
        return { changed: events.list({ uuids }).items, removed: [] };
      },
    });
  }
}
