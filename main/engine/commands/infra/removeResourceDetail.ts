import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { DETAIL_TYPES, changeZoneDetails, detailZone } from './zone-details.js';

/**
 * CloudStack's removeResourceDetail (RemoveResourceDetailCmd, ResourceMetaDataManagerImpl
 * deleteResourceMetaData) for the resource type whose details Kiln keeps this way: Zone (its
 * ResourceObjectType Zone has resourceMetadataSupport; updateZone details sets them, merging).
 * With a key, that one detail goes; without, all of them (as CloudStack's removeDetails). A key
 * the zone does not have removes nothing and succeeds, as CloudStack's removeDetail does. Async
 * (CloudStack's BaseAsyncCmd): the job answers success. The ZONE.EDIT event it records sends the
 * zone on the 'zones' live channel, as updateZone's does.
 */
export default defineCommand({
  name: 'removeResourceDetail',
  description: `Removes details of a resource (Kiln: resourcetype ${DETAIL_TYPES.join(', ')}): the one named by key, or all of them without key`,
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [
    { name: 'resourcetype', type: 'string', required: true, description: `Delete details for resource type: ${DETAIL_TYPES.join(', ')} (Kiln keeps the details of these this way)` },
    { name: 'resourceid', type: 'uuid', required: true, description: 'Delete details for resource id' },
    { name: 'key', type: 'string', description: 'Delete details matching key/value pairs; without it, all the details of the resource' },
  ],
  handler({ engine, caller }, args) {
    const zone = detailZone(engine, args, 'removeResourceDetail');
    const key = args.has('key') ? args.str('key')!.trim() : undefined;
    if (key === '') throw ApiError.param('key: give the key of the detail to remove, or no key to remove them all');
    changeZoneDetails(engine, caller, zone, (details) => {
      const gone = key === undefined ? Object.keys(details) : key in details ? [key] : [];
      if (gone.length === 0) return undefined;
      for (const k of gone) delete details[k];
      return { details, what: `${gone.length === 1 ? 'detail' : 'details'} ${gone.join(', ')} removed (removeResourceDetail)` };
    });
    return { instanceType: 'Zone', instanceId: zone.uuid, run: async () => undefined };
  },
});
