import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { settingDef } from '../../settings.js';

export default defineCommand({
  name: 'updateConfiguration',
  description: 'Updates a configuration, globally or for one zone.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'configuration',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the configuration' },
    { name: 'value', type: 'string', maxLength: 4096, description: 'the value of the configuration' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the Zone to update the parameter value for' },
  ],
  handler({ engine, caller }, args) {
    const name = args.str('name')!;
    const zone = args.uuid('zoneid') ? byUuid<{ id: number; uuid: string }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid') : undefined;
    const value = args.str('value') ?? settingDef(name)?.default ?? '';
    engine.settings.set(name, value, zone ? 'zone' : 'global', zone?.id ?? 0);
    engine.events.record({ type: 'CONFIGURATION.VALUE.EDIT', description: `configuration ${name} set to ${value}${zone ? ` in zone ${zone.uuid}` : ''}`, userId: caller.userId, accountId: caller.accountId, domainId: caller.domainId });
    const def = settingDef(name)!;
    return { name, value: engine.settings.raw(name, zone?.id), category: def.category, description: def.description, scope: zone ? 'zone' : 'global', ...(zone ? { id: zone.uuid } : {}) };
  },
});
