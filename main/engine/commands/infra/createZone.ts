import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';
import { zoneView } from '../../views.js';

export default defineCommand({
  name: 'createZone',
  description: 'Creates a Zone.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'zone',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the Zone' },
    { name: 'networktype', type: 'string', description: 'network type of the zone: Advanced (default) or Basic' },
    { name: 'dns1', type: 'string', description: 'the first DNS server for the Zone' },
    { name: 'internaldns1', type: 'string', description: 'the first internal DNS for the Zone' },
  ],
  handler({ engine, caller }, args) {
    const name = args.str('name')!;
    if (engine.db.prepare('SELECT 1 FROM zones WHERE name=? AND removed IS NULL').get(name)) throw ApiError.param(`name: a zone named ${name} already exists`);
    const type = args.str('networktype') ?? 'Advanced';
    if (type !== 'Advanced' && type !== 'Basic') throw ApiError.param('networktype: Advanced or Basic');
    const uuid = randomUUID();
    const id = engine.db.prepare('INSERT INTO zones (uuid, name, network_type, dns1, internal_dns1, created) VALUES (?,?,?,?,?,?)').run(uuid, name, type, args.str('dns1') ?? null, args.str('internaldns1') ?? null, now()).lastInsertRowid;
    engine.events.record({ type: 'ZONE.CREATE', description: `zone ${name} created`, userId: caller.userId, accountId: caller.accountId, resourceType: 'Zone', resourceUuid: uuid });
    return zoneView(engine.db.prepare('SELECT * FROM zones WHERE id=?').get(id) as Parameters<typeof zoneView>[0]);
  },
});
