/** Backup repositories (CloudStack 4.20, the NAS provider's): a backup store on another machine over SSH; root admin only. */
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { where } from '../../sql.js';
import { queryPage } from '../../registry/list-page.js';
import { ApiError } from '../../registry/errors.js';
import { addRepository, deleteRepository, repositoryByUuid, repositoryResponse, repositoryResponses } from '../repositories.js';
import type { BackupRepositoryRow } from '../rows.js';

export const addBackupRepository = defineCommand({
  name: 'addBackupRepository',
  description:
    "Adds a backup repository: an SSH account on a backup host (a host of the zone or a separate one). Kiln keeps the backups in its own directory in that account's home; the host key is trusted on first use and pinned. A host of the zone checks that it can be reached. Backups of an offering imported from it (listBackupProviderOfferings) stream there from the VM's host.",
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'backuprepository',
  sensitive: ['password', 'privatekey'],
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'ID of the zone where the backup repository is to be added' },
    { name: 'name', type: 'string', required: true, description: 'name of the backup repository' },
    { name: 'address', type: 'string', required: true, description: 'address of the backup repository: ssh://address[:port] (no path: the store directory is Kiln\'s own)' },
    { name: 'type', type: 'string', description: "type of the backup repository; Kiln's is ssh (the default)" },
    { name: 'provider', type: 'string', description: 'backup provider the repository serves (nas, the default)' },
    { name: 'username', type: 'string', description: 'Kiln: the SSH account on the backup host (default root)' },
    { name: 'privatekey', type: 'string', maxLength: 16384, description: 'Kiln: the SSH private key of the account (OpenSSH or PEM)' },
    { name: 'password', type: 'string', description: 'Kiln: the password of the account, instead of a private key' },
  ],
  async handler({ engine }, args) {
    const zone = byUuid<{ id: number }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid');
    engine.backups.requireEnabled(zone.id);
    const type = args.str('type') ?? 'ssh';
    if (type.toLowerCase() !== 'ssh') throw ApiError.param(`type: Kiln reaches backup repositories over SSH (type ssh), not ${type}`);
    const provider = args.str('provider') ?? 'nas';
    if (provider !== 'nas') throw ApiError.param(`provider: only the nas provider keeps its backups in repositories, not ${provider}`);
    const row = await addRepository(engine, {
      zoneId: zone.id, name: args.str('name')!, address: args.str('address')!, username: args.str('username') ?? 'root',
      privateKey: args.str('privatekey'), password: args.str('password'), provider,
    });
    return repositoryResponse(engine, row);
  },
});

export const listBackupRepositories = defineCommand({
  name: 'listBackupRepositories',
  description: 'Lists the backup repositories.',
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'backuprepository',
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the backup repository' },
    { name: 'zoneid', type: 'uuid', description: 'ID of the zone where the backup repository is' },
    { name: 'name', type: 'string', description: 'name of the backup repository' },
    { name: 'provider', type: 'string', description: 'the backup provider' },
  ],
  handler({ engine }, args, page) {
    const id = args.uuid('id');
    // An id or zone that names nothing is an error, not an empty list.
    if (id) repositoryByUuid(engine, id, 'id');
    const zoneUuid = args.uuid('zoneid');
    const zone = zoneUuid && !id ? byUuid<{ id: number }>(engine.db, 'zone', zoneUuid, 'zoneid') : undefined;
    const w = where(['removed IS NULL'], [['uuid', id], ['zone_id', zone?.id], ['name', args.str('name')], ['provider', args.str('provider')]]);
    return queryPage<BackupRepositoryRow>(engine.db, page, { select: '*', from: `FROM backup_repositories ${w.sql}`, values: w.values, orderBy: 'id' }, (rows) => repositoryResponses(engine, rows));
  },
});

export const deleteBackupRepository = defineCommand({
  name: 'deleteBackupRepository',
  description: 'Deletes a backup repository no backup offering uses (its backups stay on the backup host).',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'success',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'ID of the backup repository' }],
  handler({ engine }, args) {
    deleteRepository(engine, repositoryByUuid(engine, args.uuid('id')!, 'id'));
    return { success: true };
  },
});
