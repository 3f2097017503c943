import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { configScope } from './scope.js';
import { SETTINGS } from '../../settings.js';

export default defineCommand({
  name: 'listConfigurations',
  description: 'Lists all configurations (global, or as they apply to a zone or a cluster).',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'configuration',
  params: [
    { name: 'name', type: 'string', description: 'lists configuration by name' },
    { name: 'category', type: 'string', description: 'lists configurations by category' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the Zone to show zone-scoped values for' },
    { name: 'clusterid', type: 'uuid', description: 'the ID of the Cluster to show cluster-scoped values for' },
  ],
  handler({ engine }, args) {
    const at = configScope(engine, args);
    const keyword = args.str('keyword')?.toLowerCase();
    const settings = engine.settings.readAll();
    return SETTINGS.filter((s) => !s.hidden)
      .filter((s) => !args.str('name') || s.name === args.str('name'))
      .filter((s) => !args.str('category') || s.category.toLowerCase() === args.str('category')!.toLowerCase())
      .filter((s) => !keyword || s.name.includes(keyword))
      .filter((s) => at.scope === 'global' || s.scope === at.scope)
      .map((s) => ({
        name: s.name,
        value: settings.raw(s.name, at.place),
        defaultvalue: s.default,
        category: s.category,
        description: s.description,
        type: s.type,
        scope: s.scope,
        isdynamic: true,
        ...(s.options ? { options: s.options.join(',') } : {}),
        ...(at.uuid ? { id: at.uuid } : {}),
      }));
  },
});
