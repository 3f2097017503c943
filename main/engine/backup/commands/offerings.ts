/** Backup offerings (R54): the provider's offerings, importing one into a zone, listing and deleting them. */
import { defineCommand, ADMIN_ONLY, ALL_ROLES, type ApiObject } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';
import { offeringByUuid, offeringResponse, offeringResponses, vmOffering } from '../records.js';
import { BACKUP_PROVIDERS } from '../providers/index.js';
import type { BackupOfferingRow } from '../rows.js';

export const listBackupProviders = defineCommand({
  name: 'listBackupProviders',
  description: 'Lists Backup and Recovery providers (backup.framework.provider.plugin names one per zone).',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'providers',
  params: [{ name: 'name', type: 'string', description: 'List Backup and Recovery provider by name' }],
  handler(_ctx, args) {
    const name = args.str('name');
    return BACKUP_PROVIDERS.filter((p) => name === undefined || p.name === name).map((p): ApiObject => ({ name: p.name, description: p.description }));
  },
});

export const listBackupProviderOfferings = defineCommand({
  name: 'listBackupProviderOfferings',
  description: "Lists the offerings of the zone's backup provider, to import one (importBackupOffering).",
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'backupoffering',
  params: [{ name: 'zoneid', type: 'uuid', required: true, description: 'The zone ID' }],
  async handler({ engine }, args) {
    const zone = byUuid<{ id: number; uuid: string; name: string }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    engine.backups.requireEnabled(zone.id);
    const provider = engine.backups.providerFor(zone.id);
    return (await provider.listOfferings(engine, zone.id)).map((o): ApiObject => ({ externalid: o.externalId, name: o.name, description: o.description, provider: provider.name, zoneid: zone.uuid, zonename: zone.name }));
  },
});

export const importBackupOffering = defineCommand({
  name: 'importBackupOffering',
  description: "Imports one of the zone provider's backup offerings; only the root admin imports.",
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'backupoffering',
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'The zone ID' },
    { name: 'externalid', type: 'string', required: true, description: 'The backup offering ID (from backup provider side)' },
    { name: 'name', type: 'string', required: true, description: 'the name of the backup offering' },
    { name: 'description', type: 'string', required: true, description: 'the description of the backup offering' },
    { name: 'allowuserdrivenbackups', type: 'boolean', required: true, description: 'Whether users are allowed to create adhoc backups and backup schedules' },
  ],
  handler({ engine }, args) {
    const zone = byUuid<{ id: number }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    engine.backups.requireEnabled(zone.id);
    const input = { zoneId: zone.id, externalId: args.str('externalid')!, name: args.str('name')!, description: args.str('description')!, userDriven: args.bool('allowuserdrivenbackups')! };
    return { instanceType: 'BackupOffering', run: async () => offeringResponse(engine, await engine.backups.importOffering(input)) };
  },
});

export const listBackupOfferings = defineCommand({
  name: 'listBackupOfferings',
  description: 'Lists the backup offerings imported into zones.',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'backupoffering',
  params: [
    { name: 'id', type: 'uuid', description: 'The backup offering ID' },
    { name: 'zoneid', type: 'uuid', description: 'The zone ID' },
    { name: 'virtualmachineid', type: 'uuid', description: "Kiln: only the offering this VM is assigned to (the VM's Backups tab)" },
  ],
  handler({ engine, caller }, args, page) {
    const vmUuid = args.uuid('virtualmachineid');
    if (vmUuid) {
      const vm = engine.vms.forCaller(caller, vmUuid, 'virtualmachineid');
      engine.backups.requireEnabled(vm.zone_id);
      const assigned = vmOffering(engine, vm.id);
      return assigned ? [offeringResponse(engine, assigned.offering)] : [];
    }
    const zoneUuid = args.uuid('zoneid');
    const zone = zoneUuid ? byUuid<{ id: number }>(engine.db, 'zone', zoneUuid, 'zoneid') : undefined;
    if (zone) engine.backups.requireEnabled(zone.id);
    const id = args.uuid('id');
    if (id) offeringByUuid(engine, id, 'id');
    const w = where(['removed IS NULL'], [['uuid', id], ['zone_id', zone?.id]]);
    return queryPage<BackupOfferingRow>(engine.db, page, { select: '*', from: `FROM backup_offerings ${w.sql}`, values: w.values, orderBy: 'id' }, (rows) => offeringResponses(engine, rows));
  },
});

export const deleteBackupOffering = defineCommand({
  name: 'deleteBackupOffering',
  description: 'Deletes a backup offering no VM is assigned to; only the root admin deletes.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'ID of the backup offering' }],
  handler({ engine }, args) {
    const offering = offeringByUuid(engine, args.uuid('id')!, 'id');
    engine.backups.requireEnabled(offering.zone_id);
    engine.backups.deleteOffering(offering);
    return { success: true };
  },
});
