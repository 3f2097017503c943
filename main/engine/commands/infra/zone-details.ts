/**
 * What addResourceDetail, removeResourceDetail and listResourceDetails share: the resource types
 * whose details Kiln keeps this way (Zone: CloudStack's ResourceObjectType Zone has resource
 * metadata support, and updateZone details sets the same set), the zone the call names, and the
 * write of its details with the ZONE.EDIT event that sends the zone on the 'zones' live channel,
 * as updateZone's does.
 */
import type { Engine } from '../../engine.js';
import type { Caller } from '../../registry/types.js';
import type { Args } from '../../registry/params.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';

export const DETAIL_TYPES = ['Zone'];

export interface DetailZone {
  id: number;
  uuid: string;
  name: string;
}

/** resourcetype=Zone (any case, as CloudStack reads it); another type is a 431 naming resourcetype and the types Kiln has. */
export function checkDetailType(args: Args, command: string): void {
  const type = args.str('resourcetype')!;
  if (type.toLowerCase() !== 'zone') throw ApiError.param(`resourcetype: "${type}" is not a resource type Kiln keeps details for with ${command}: ${DETAIL_TYPES.join(', ')}`);
}

/** The zone of resourcetype=Zone resourceid=… (checkDetailType's refusal for another type). */
export function detailZone(engine: Engine, args: Args, command: string): DetailZone {
  checkDetailType(args, command);
  return byUuid<DetailZone>(engine.db, 'zone', args.uuid('resourceid')!, 'resourceid');
}

/**
 * In one transaction: the zone's details as CHANGE returns them from the current ones, and the
 * event saying WHAT (nothing written, no event, when CHANGE answers undefined).
 */
export function changeZoneDetails(engine: Engine, caller: Caller, zone: DetailZone, change: (details: Record<string, string>) => { details: Record<string, string>; what: string } | undefined): void {
  const db = engine.db;
  db.transaction(() => {
    const before = db.prepare('SELECT details FROM zones WHERE id=?').pluck().get(zone.id) as string | null;
    const next = change(before ? (JSON.parse(before) as Record<string, string>) : {});
    if (!next) return;
    db.prepare('UPDATE zones SET details=? WHERE id=?').run(JSON.stringify(next.details), zone.id);
    engine.events.record({ type: 'ZONE.EDIT', description: `zone ${zone.name} updated: ${next.what}`, userId: caller.userId, accountId: caller.accountId, resourceType: 'Zone', resourceUuid: zone.uuid });
  })();
}
