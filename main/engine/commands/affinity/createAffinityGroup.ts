import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';
import { resolveOwner } from '../../vm/deploy-input.js';
import { AFFINITY_TYPES, groupView } from './groups.js';

export default defineCommand({
  name: 'createAffinityGroup',
  description: 'Creates an affinity/anti-affinity group for the account',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'affinitygroup',
  params: [
    { name: 'name', type: 'string', required: true, description: 'name of the affinity group' },
    { name: 'type', type: 'string', required: true, description: `Type of the affinity group: ${AFFINITY_TYPES.join(', ')}` },
    { name: 'description', type: 'string', description: 'optional description of the affinity group' },
    { name: 'account', type: 'string', description: 'an account for the affinity group; needs domainid' },
    { name: 'domainid', type: 'uuid', description: 'domainId of the account owning the affinity group' },
  ],
  handler({ engine, caller }, args) {
    const type = args.str('type')!;
    if (!AFFINITY_TYPES.includes(type)) throw ApiError.param(`type: no affinity group type "${type}"; one of ${AFFINITY_TYPES.join(', ')}`);
    const owner = resolveOwner(engine, caller, args);
    const name = args.str('name')!;
    if (engine.db.prepare('SELECT 1 FROM affinity_groups WHERE account_id=? AND name=?').get(owner.accountId, name)) throw ApiError.param(`name: the account already has an affinity group named ${name}`);
    // Written at once so the name is taken; the job only reports it, as CloudStack's does.
    const id = Number(engine.db.prepare('INSERT INTO affinity_groups (uuid, name, description, type, account_id, domain_id, created) VALUES (?,?,?,?,?,?,?)').run(randomUUID(), name, args.str('description') ?? null, type, owner.accountId, owner.domainId, now()).lastInsertRowid);
    const uuid = (engine.db.prepare('SELECT uuid FROM affinity_groups WHERE id=?').get(id) as { uuid: string }).uuid;
    engine.events.record({ type: 'AG.CREATE', description: `affinity group ${name} (${type}) created`, userId: caller.userId, accountId: owner.accountId, domainId: owner.domainId, resourceType: 'AffinityGroup', resourceUuid: uuid });
    return { instanceType: 'AffinityGroup', instanceId: uuid, run: async () => groupView(engine.db, id) };
  },
});
