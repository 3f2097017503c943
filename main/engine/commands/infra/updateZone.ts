import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { IPV4_RULE } from '../../registry/param-rules.js';
import { allocationStateParam, newName, updated } from './infra-edits.js';

/** The zone columns updateZone sets from a parameter of the same meaning; an empty value clears one (CloudStack: "empty string will update … with NULL"). */
const COLUMNS = [
  ['dns1', 'dns1'],
  ['dns2', 'dns2'],
  ['internaldns1', 'internal_dns1'],
  ['internaldns2', 'internal_dns2'],
  ['domain', 'domain'],
] as const;

export default defineCommand({
  name: 'updateZone',
  description: 'Updates a Zone: its name, allocation state (a Disabled zone takes no new VM), DNS servers and network domain.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'zone',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the Zone' },
    { name: 'name', type: 'string', description: 'the name of the Zone' },
    allocationStateParam('zone'),
    { name: 'dns1', type: 'string', rule: IPV4_RULE, description: 'the first DNS for the Zone' },
    { name: 'dns2', type: 'string', rule: IPV4_RULE, description: 'the second DNS for the Zone' },
    { name: 'internaldns1', type: 'string', rule: IPV4_RULE, description: 'the first internal DNS for the Zone' },
    { name: 'internaldns2', type: 'string', rule: IPV4_RULE, description: 'the second internal DNS for the Zone' },
    { name: 'domain', type: 'string', description: 'Network domain name for the networks in the zone; empty string will update domain with NULL value' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const zone = byUuid<{ id: number; uuid: string; name: string }>(db, 'zone', args.uuid('id')!, 'id');
    const name = newName(args, 'name', 'zone', (n) => (db.prepare('SELECT 1 FROM zones WHERE name=? AND id<>? AND removed IS NULL').get(n, zone.id) ? `a zone named ${n} already exists` : undefined));
    const state = args.str('allocationstate') || undefined;
    const changes: string[] = [];
    db.transaction(() => {
      if (name !== undefined && name !== zone.name) {
        db.prepare('UPDATE zones SET name=? WHERE id=?').run(name, zone.id);
        changes.push(`renamed to ${name}`);
      }
      if (state) {
        db.prepare('UPDATE zones SET allocation_state=? WHERE id=?').run(state, zone.id);
        changes.push(state);
      }
      for (const [param, column] of COLUMNS) {
        if (!args.has(param)) continue;
        db.prepare(`UPDATE zones SET ${column}=? WHERE id=?`).run(args.str(param) || null, zone.id);
        changes.push(`${param} ${args.str(param) || 'cleared'}`);
      }
    })();
    return updated(engine, caller, 'zone', { id: zone.id, uuid: zone.uuid, name: name ?? zone.name, renamed: name !== undefined && name !== zone.name }, changes);
  },
});
