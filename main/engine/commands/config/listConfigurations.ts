import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { SETTINGS } from '../../settings.js';

export default defineCommand({
  name: 'listConfigurations',
  description: 'Lists all configurations (global, or as they apply to a zone).',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'configuration',
  params: [
    { name: 'name', type: 'string', description: 'lists configuration by name' },
    { name: 'category', type: 'string', description: 'lists configurations by category' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the Zone to show zone-scoped values for' },
  ],
  handler({ engine }, args) {
    const zone = args.uuid('zoneid') ? byUuid<{ id: number; uuid: string }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid') : undefined;
    const keyword = args.str('keyword')?.toLowerCase();
    return SETTINGS.filter((s) => !s.hidden)
      .filter((s) => !args.str('name') || s.name === args.str('name'))
      .filter((s) => !args.str('category') || s.category.toLowerCase() === args.str('category')!.toLowerCase())
      .filter((s) => !keyword || s.name.includes(keyword))
      .filter((s) => !zone || s.scope === 'zone')
      .map((s) => ({
        name: s.name,
        value: engine.settings.raw(s.name, zone?.id),
        defaultvalue: s.default,
        category: s.category,
        description: s.description,
        type: s.type,
        scope: s.scope,
        isdynamic: true,
        ...(s.options ? { options: s.options.join(',') } : {}),
        ...(zone ? { id: zone.uuid } : {}),
      }));
  },
});
