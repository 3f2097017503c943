import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ACCOUNT_LIST_PARAMS } from '../../registry/list-params.js';
import { where } from '../../sql.js';
import { accountScope } from '../../vm/access.js';
import type { KeyPairRow } from '../../ssh-keys/vm-keys.js';
import { keyPairResponses } from './keypairs.js';
import { queryPage } from '../../registry/list-page.js';

export default defineCommand({
  name: 'listSSHKeyPairs',
  description: "List registered keypairs: a user sees its own account's, an admin those of the accounts it manages",
  kind: 'list',
  roles: ALL_ROLES,
  response: 'sshkeypair',
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the ssh keypair' },
    { name: 'name', type: 'string', description: 'A key pair name to look for' },
    { name: 'fingerprint', type: 'string', description: 'A public key fingerprint to look for' },
    ...ACCOUNT_LIST_PARAMS,
  ],
  handler({ engine, caller }, args, page) {
    const scope = accountScope(caller, 'k.account_id');
    const w = where([scope.sql], [
      ['k.uuid', args.uuid('id')], ['k.name', args.str('name')], ['lower(k.fingerprint)', args.str('fingerprint')?.toLowerCase()],
      ['a.name', args.str('account')], ['d.uuid', args.uuid('domainid')], ['k.name', args.str('keyword'), 'like'],
    ]);
    return queryPage<KeyPairRow>(
      engine.db,
      page,
      { select: 'k.*', from: `FROM ssh_keypairs k JOIN accounts a ON a.id=k.account_id JOIN domains d ON d.id=k.domain_id ${w.sql}`, values: [...scope.values, ...w.values], orderBy: 'k.id' },
      (rows) => keyPairResponses(engine.db, rows),
    );
  },
});
