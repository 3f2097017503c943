import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { configScope } from './scope.js';
import { settingDef } from '../../settings.js';

export default defineCommand({
  name: 'updateConfiguration',
  description: 'Updates a configuration, globally or for one zone or cluster.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'configuration',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the configuration' },
    { name: 'value', type: 'string', maxLength: 4096, description: 'the value of the configuration' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the Zone to update the parameter value for' },
    { name: 'clusterid', type: 'uuid', description: 'the ID of the Cluster to update the parameter value for' },
  ],
  handler({ engine, caller }, args) {
    const name = args.str('name')!;
    const at = configScope(engine, args);
    const value = args.str('value') ?? settingDef(name)?.default ?? '';
    engine.settings.set(name, value, at.scope, at.id);
    // Named as the zone or cluster is named on its page; its uuid only if it has no name.
    const where = at.uuid ? (engine.db.prepare(`SELECT name FROM ${at.scope === 'zone' ? 'zones' : 'clusters'} WHERE id=?`).pluck().get(at.id) as string | undefined) || at.uuid : undefined;
    engine.events.record({ type: 'CONFIGURATION.VALUE.EDIT', description: `configuration ${name} set to ${value}${where ? ` in ${at.scope} ${where}` : ''}`, userId: caller.userId, accountId: caller.accountId, domainId: caller.domainId });
    const def = settingDef(name)!;
    return { name, value: engine.settings.raw(name, at.place), category: def.category, description: def.description, scope: at.scope, ...(at.uuid ? { id: at.uuid } : {}) };
  },
});
