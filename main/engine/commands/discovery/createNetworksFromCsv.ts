import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { createNetworksFromCsv } from '../../discovery/endpoint-networks.js';
import createNetwork from '../network/createNetwork.js';

export default defineCommand({
  name: 'createNetworksFromCsv',
  description:
    "Kiln: creates the L2 networks a `kiln discover-networks --format csv` file lists (its name, displaytext, vlan and isolatedpvlan columns) that the zone lacks, so an import finds a network for each NIC's VLAN. Every row is checked first and a bad one refuses the whole file (431 naming its line and column), with nothing created; a row whose VLAN already has an L2 or shared network in the zone is skipped, so a re-run creates nothing twice.",
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'networkimport',
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'the zone the networks are created in' },
    { name: 'csv', type: 'string', required: true, maxLength: 4 * 1024 * 1024, description: 'the CSV text: a header with name and vlan (displaytext optional; other columns are ignored); a UTF-8 BOM, quoted cells and commas in names are read as such' },
  ],
  handler({ engine, caller }, args) {
    const zone = byUuid<{ id: number; uuid: string }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    return createNetworksFromCsv(engine, caller, zone, args.str('csv')!, createNetwork) as unknown as Record<string, unknown>;
  },
});
