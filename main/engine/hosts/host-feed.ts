/**
 * The 'hosts' live channel: the changed host records (as listHosts answers them), so that the
 * hosts page follows state and capacity without polling. A host is marked when its state changes
 * (Up, Disconnected, Down, Alert), when a VM starts, stops or moves on it (its used CPU and
 * memory change), when its GPU capacity is read again after such a change ('host-changed'), and
 * when an event is recorded on it (an edit without a state change: allocation state, tags, OS
 * preference, as the 'vms' channel does for VMs); a host that is removed goes out in `removed`.
 */
import type { Engine } from '../engine.js';
import { PAGE_IDS } from '../registry/list-page.js';
import { RecordFeed } from '../live/record-feed.js';
import { hostListViews } from '../views.js';
import type { HostRow } from './host-manager.js';

export class HostFeed extends RecordFeed {
  constructor(engine: Engine) {
    const hostUuid = engine.db.prepare('SELECT uuid FROM hosts WHERE id=?').pluck();
    const vmHosts = engine.db.prepare('SELECT h.uuid FROM vm_instances v JOIN hosts h ON h.id IN (v.host_id, v.last_host_id) WHERE v.uuid=?').pluck();
    super({
      event: 'hosts',
      attach(mark) {
        const onState = (change: { hostId: number }) => {
          const uuid = hostUuid.get(change.hostId) as string | undefined;
          if (uuid) mark(uuid);
        };
        const onVm = (change: { id: string }) => {
          for (const uuid of vmHosts.all(change.id) as string[]) mark(uuid);
        };
        const onEvent = (event: { resourceType?: string; resourceUuid?: string }) => {
          if (event.resourceType === 'Host' && event.resourceUuid) mark(event.resourceUuid);
        };
        engine.hosts.events.on('host-state', onState);
        engine.hosts.events.on('host-changed', onState);
        engine.bus.on('vm', onVm);
        engine.events.emitter.on('event', onEvent);
        return () => {
          engine.events.emitter.off('event', onEvent);
          engine.hosts.events.off('host-state', onState);
          engine.hosts.events.off('host-changed', onState);
          engine.bus.off('vm', onVm);
        };
      },
      build(uuids) {
        const rows = engine.db.prepare(`SELECT * FROM hosts WHERE uuid ${PAGE_IDS} AND removed IS NULL ORDER BY id`).all(JSON.stringify(uuids)) as HostRow[];
        const present = new Set(rows.map((row) => row.uuid));
        return { changed: hostListViews(engine, rows), removed: uuids.filter((uuid) => !present.has(uuid)) };
      },
    });
  }
}
