import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { DETAIL_TYPES, changeZoneDetails, detailZone } from './zone-details.js';

/**
 * CloudStack's addResourceDetail (AddResourceDetailCmd, ResourceMetaDataManagerImpl
 * addResourceMetaData) for a zone: each pair given is set on the zone's details (a key it has
 * takes the new value), the others are kept, as updateZone details does. Async (CloudStack's
 * BaseAsyncCmd): the job answers success. fordisplay: Kiln shows a zone's details to whoever lists
 * the zone, so true (CloudStack's default) is taken and false refused (431), nothing written.
 */
export default defineCommand({
  name: 'addResourceDetail',
  description: `Adds details to a resource (Kiln: resourcetype ${DETAIL_TYPES.join(', ')}): each key given is set, the resource's other details are kept`,
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [
    { name: 'details', type: 'map', required: true, description: 'Map of (key/value pairs): details[0].key=k&details[0].value=v' },
    { name: 'resourcetype', type: 'string', required: true, description: `Type of the resource: ${DETAIL_TYPES.join(', ')}` },
    { name: 'resourceid', type: 'uuid', required: true, description: 'Resource ID to create the details for' },
    { name: 'fordisplay', type: 'boolean', description: "true (the default): Kiln shows a zone's details to whoever lists the zone, and does not take false" },
  ],
  handler({ engine, caller }, args) {
    const zone = detailZone(engine, args, 'addResourceDetail');
    const given = args.details('details');
    if (!given || Object.keys(given).length === 0) throw ApiError.param('details: give at least one key/value pair (details[0].key=k&details[0].value=v)');
    if (Object.keys(given).some((key) => key.trim() === '')) throw ApiError.param('details: a detail needs a key');
    if (args.bool('fordisplay') === false) throw ApiError.param("fordisplay: Kiln shows a zone's details to whoever lists the zone; false is not kept");
    changeZoneDetails(engine, caller, zone, (details) => ({ details: { ...details, ...given }, what: `details ${Object.keys(given).join(', ')} set (addResourceDetail)` }));
    return { instanceType: 'Zone', instanceId: zone.uuid, run: async () => undefined };
  },
});
