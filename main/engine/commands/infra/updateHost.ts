import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { hostView } from '../../views.js';
import type { HostRow } from '../../hosts/host-manager.js';

export default defineCommand({
  name: 'updateHost',
  description: 'Updates a host: host tags (R26), the preferred guest OS category (R23), allocation state.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'host',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the host to update' },
    { name: 'hosttags', type: 'list', description: 'list of host tags (replaces the current ones; empty string clears)' },
    { name: 'oscategoryid', type: 'uuid', description: 'the id of Os category to update the host with' },
    { name: 'allocationstate', type: 'string', description: 'Enable or Disable the host' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const host = byUuid<HostRow>(db, 'host', args.uuid('id')!, 'id');
    const state = args.str('allocationstate');
    if (state && state !== 'Enable' && state !== 'Disable') throw ApiError.param('allocationstate: Enable or Disable');
    const category = args.uuid('oscategoryid') ? byUuid<{ id: number }>(db, 'osCategory', args.uuid('oscategoryid')!, 'oscategoryid') : undefined;
    if (args.has('hosttags')) db.prepare('UPDATE hosts SET host_tags=? WHERE id=?').run((args.list('hosttags') ?? []).join(','), host.id);
    if (category) db.prepare('UPDATE hosts SET os_category_id=? WHERE id=?').run(category.id, host.id);
    if (state) db.prepare('UPDATE hosts SET resource_state=? WHERE id=?').run(state === 'Enable' ? 'Enabled' : 'Disabled', host.id);
    // Recorded on the host, so the 'hosts' live channel sends its new record (hosts/host-feed.ts).
    engine.events.record({ type: 'HOST.UPDATE', description: `host ${host.name} updated`, userId: caller.userId, accountId: caller.accountId, resourceType: 'Host', resourceUuid: host.uuid });
    return hostView(db, engine.planner, db.prepare('SELECT * FROM hosts WHERE id=?').get(host.id) as HostRow, true);
  },
});
