/**
 * The 'zones', 'pods' and 'clusters' live channels: the changed records, as listZones, listPods
 * and listClusters answer them, so that the hosts page follows another client's changes without
 * reading its lists again. A zone, pod or cluster is marked when an event is recorded on it
 * (created, and any later change that records one, as the 'hosts' channel does for hosts); one
 * that is gone (or removed) goes out in `removed`.
 *
 * Each record is read through the registry's own list command (by id, as the local admin, whom
 * the live channel serves: main/http/live.ts), so a record is exactly what the list answers and
 * no second copy of its response code exists. That costs one list call per changed record: these
 * change one at a time by hand, never in bursts of hundreds as VMs do.
 */
import type { Engine } from '../engine.js';
import type { InfraUpdate } from '../../../preload/api.js';
import { RecordFeed } from './record-feed.js';

/** Per channel: the event resource type that marks it, and the list command and response key that read it. */
const INFRA = {
  zones: { resourceType: 'Zone', command: 'listZones', key: 'zone' },
  pods: { resourceType: 'Pod', command: 'listPods', key: 'pod' },
  clusters: { resourceType: 'Cluster', command: 'listClusters', key: 'cluster' },
} as const;

export type InfraChannel = keyof typeof INFRA;
export type InfraFeeds = Record<InfraChannel, RecordFeed>;

function infraFeed(engine: Engine, channel: InfraChannel): RecordFeed {
  const { resourceType, command, key } = INFRA[channel];
  return new RecordFeed({
    event: channel,
    attach(mark) {
      const onEvent = (event: { resourceType?: string; resourceUuid?: string }) => {
        if (event.resourceType === resourceType && event.resourceUuid) mark(event.resourceUuid);
      };
      engine.events.emitter.on('event', onEvent);
      return () => engine.events.emitter.off('event', onEvent);
    },
    async build(uuids): Promise<InfraUpdate> {
      const caller = engine.accounts.localAdmin();
      const changed: Record<string, unknown>[] = [];
      const removed: string[] = [];
      for (const id of uuids) {
        const result = await engine.registry.execute(command, { id }, caller);
        const [record] = result.status === 200 && Array.isArray(result.body[key]) ? (result.body[key] as Record<string, unknown>[]) : [];
        if (record) changed.push(record);
        else if (result.status === 200) removed.push(id);
      }
      return { changed, removed };
    },
  });
}

export function infraFeeds(engine: Engine): InfraFeeds {
  return { zones: infraFeed(engine, 'zones'), pods: infraFeed(engine, 'pods'), clusters: infraFeed(engine, 'clusters') };
}
