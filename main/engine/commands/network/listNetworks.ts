import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { networkViews } from '../../views.js';
import { where } from '../../sql.js';
import type { NetworkRow } from '../../vm/rows.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listNetworks',
  description: 'Lists all available networks',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'network',
  params: [
    { name: 'id', type: 'uuid', description: 'list networks by ID' },
    { name: 'zoneid', type: 'uuid', description: 'the zone ID of the network' },
    { name: 'type', type: 'string', description: 'the type of the network: L2, Shared or Isolated' },
    { name: 'name', type: 'string', description: 'list networks by name' },
  ],
  handler({ engine, caller }, args, page) {
    // Domain-wide (L2/shared) networks are visible to all; account networks to their owners.
    const scope = caller.role === 'Admin' ? '1=1' : `(n.account_id IS NULL OR n.account_id=${Number(caller.accountId)})`;
    const w = where(['n.removed IS NULL', scope], [['n.uuid', args.uuid('id')], ['z.uuid', args.uuid('zoneid')], ['n.guest_type', args.str('type'), 'ieq'], ['n.name', args.str('name')], ['n.name', args.str('keyword'), 'like']]);
    return queryPage<NetworkRow>(engine.db, page, { select: 'n.*', from: `FROM networks n JOIN zones z ON z.id=n.zone_id ${w.sql}`, values: w.values, orderBy: 'n.id' }, (rows) =>
      networkViews(engine.db, rows),
    );
  },
});
