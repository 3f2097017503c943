import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';

export default defineCommand({
  name: 'createPod',
  description: 'Creates a new Pod.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'pod',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the Pod' },
    { name: 'zoneid', type: 'uuid', required: true, description: 'the Zone ID in which the Pod will be created' },
    { name: 'gateway', type: 'string', description: 'the gateway for the Pod' },
    { name: 'netmask', type: 'string', description: 'the netmask for the Pod' },
    { name: 'startip', type: 'string', description: 'the starting IP address for the Pod' },
    { name: 'endip', type: 'string', description: 'the ending IP address for the Pod' },
  ],
  handler({ engine, caller }, args) {
    const zone = byUuid<{ id: number; uuid: string; name: string }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    const name = args.str('name')!;
    if (engine.db.prepare('SELECT 1 FROM pods WHERE zone_id=? AND name=? AND removed IS NULL').get(zone.id, name)) throw ApiError.param(`name: zone ${zone.name} already has a pod named ${name}`);
    const uuid = randomUUID();
    engine.db.prepare('INSERT INTO pods (uuid, name, zone_id, gateway, netmask, start_ip, end_ip, created) VALUES (?,?,?,?,?,?,?,?)').run(uuid, name, zone.id, args.str('gateway') ?? null, args.str('netmask') ?? null, args.str('startip') ?? null, args.str('endip') ?? null, now());
    engine.events.record({ type: 'POD.CREATE', description: `pod ${name} created in zone ${zone.name}`, userId: caller.userId, accountId: caller.accountId, resourceType: 'Pod', resourceUuid: uuid });
    return { id: uuid, name, zoneid: zone.uuid, zonename: zone.name, gateway: args.str('gateway'), netmask: args.str('netmask'), allocationstate: 'Enabled' };
  },
});
