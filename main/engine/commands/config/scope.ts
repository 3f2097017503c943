/** The zone or cluster a configuration command names (zoneid or clusterid, not both), shared by list and update. */
import type { Engine } from '../../engine.js';
import type { Args } from '../../registry/params.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import type { SettingScope } from '../../settings.js';

export interface ConfigScope {
  scope: SettingScope;
  /** The zone's or cluster's id; 0 for global. */
  id: number;
  uuid?: string;
  /** What Settings.raw needs to read values as they apply there. */
  place: { zoneId?: number; clusterId?: number };
}

export function configScope(engine: Engine, args: Args): ConfigScope {
  const zoneUuid = args.uuid('zoneid');
  const clusterUuid = args.uuid('clusterid');
  if (zoneUuid && clusterUuid) throw ApiError.param('clusterid: give zoneid or clusterid, not both');
  if (zoneUuid) {
    const zone = byUuid<{ id: number; uuid: string }>(engine.db, 'zone', zoneUuid, 'zoneid');
    return { scope: 'zone', id: zone.id, uuid: zone.uuid, place: { zoneId: zone.id } };
  }
  if (clusterUuid) {
    const cluster = byUuid<{ id: number; uuid: string; zone_id: number }>(engine.db, 'cluster', clusterUuid, 'clusterid');
    return { scope: 'cluster', id: cluster.id, uuid: cluster.uuid, place: { zoneId: cluster.zone_id, clusterId: cluster.id } };
  }
  return { scope: 'global', id: 0, place: {} };
}
