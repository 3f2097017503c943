import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { resolveOwner } from '../../vm/deploy-input.js';
import { keyPairByName } from './keypairs.js';

export default defineCommand({
  name: 'deleteSSHKeyPair',
  description: 'Deletes a keypair by name. VMs given it keep the public key they have.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'success',
  params: [
    { name: 'name', type: 'string', required: true, description: 'Name of the keypair' },
    { name: 'account', type: 'string', description: 'the account associated with the keypair. Must be used with the domainId parameter.' },
    { name: 'domainid', type: 'uuid', description: 'the domain ID associated with the keypair' },
  ],
  handler({ engine, caller }, args) {
    const owner = resolveOwner(engine, caller, args);
    const name = args.str('name')!;
    const row = keyPairByName(engine.db, owner.accountId, name);
    if (!row) throw ApiError.param(`name: A key pair with name '${name}' does not exist for this account in the specified domain.`);
    engine.db.transaction(() => {
      engine.db.prepare('DELETE FROM ssh_keypairs WHERE id=?').run(row.id);
      engine.events.record({ type: 'DELETE.SSH.KEYPAIR', description: `SSH key pair ${name} deleted`, userId: caller.userId, accountId: row.account_id, domainId: row.domain_id, resourceType: 'SSHKeyPair', resourceUuid: row.uuid });
    })();
    return {};
  },
});
