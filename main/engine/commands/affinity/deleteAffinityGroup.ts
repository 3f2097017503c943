import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { requireAccountAccess } from '../../vm/access.js';
import { resolveOwner } from '../../vm/deploy-input.js';
import { UUID_RE } from '../../registry/params.js';

export default defineCommand({
  name: 'deleteAffinityGroup',
  description: 'Deletes an affinity group. Its members are detached and keep running; later restarts no longer follow the group.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'id', type: 'uuid', description: 'The ID of the affinity group' },
    { name: 'name', type: 'string', description: 'The name of the affinity group' },
    { name: 'account', type: 'string', description: 'the account of the affinity group; needs domainid' },
    { name: 'domainid', type: 'uuid', description: 'the domain ID of account owning the affinity group' },
  ],
  handler({ engine, caller }, args) {
    const id = args.uuid('id');
    const name = args.str('name');
    if (!id && !name) throw ApiError.param('id or name: give one to name the affinity group');
    const owner = resolveOwner(engine, caller, args);
    const row = (id
      ? engine.db.prepare('SELECT id, uuid, name, account_id FROM affinity_groups WHERE uuid=?').get(id)
      : engine.db.prepare('SELECT id, uuid, name, account_id FROM affinity_groups WHERE name=? AND account_id=?').get(name, owner.accountId)) as { id: number; uuid: string; name: string; account_id: number } | undefined;
    if (!row) throw ApiError.param(id && UUID_RE.test(id) ? `id: no affinity group ${id}` : `name: the account has no affinity group named ${name}`);
    requireAccountAccess(engine.db, caller, row.account_id, `affinity group ${row.name}`);
    return {
      instanceType: 'AffinityGroup',
      instanceId: row.uuid,
      run: async () => {
        engine.db.transaction(() => {
          engine.db.prepare('DELETE FROM affinity_group_vms WHERE group_id=?').run(row.id);
          engine.db.prepare('DELETE FROM affinity_groups WHERE id=?').run(row.id);
          engine.events.record({ type: 'AG.DELETE', description: `affinity group ${row.name} deleted; its members were detached`, userId: caller.userId, accountId: row.account_id, resourceType: 'AffinityGroup', resourceUuid: row.uuid });
        })();
        return undefined;
      },
    };
  },
});
