import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';
import { resolveOwner } from '../../vm/deploy-input.js';
import { fingerprintOf, OPENSSH_PUBLIC_KEY_RULE, parsePublicKey, PUBLIC_KEY_TYPES } from '../../ssh-keys/public-key.js';
import type { KeyPairRow } from '../../ssh-keys/vm-keys.js';
import { keyPairByName, keyPairResponse } from './keypairs.js';

export default defineCommand({
  name: 'registerSSHKeyPair',
  description: `Register a public key in a keypair under a certain name (OpenSSH format: ${PUBLIC_KEY_TYPES.join(', ')})`,
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'keypair',
  params: [
    { name: 'name', type: 'string', required: true, description: 'Name of the keypair' },
    { name: 'publickey', type: 'string', required: true, maxLength: 16384, rule: OPENSSH_PUBLIC_KEY_RULE, description: 'Public key material of the keypair' },
    { name: 'account', type: 'string', description: 'an optional account for the ssh key. Must be used with domainId.' },
    { name: 'domainid', type: 'uuid', description: 'an optional domainId for the ssh key. If the account parameter is used, domainId must also be used.' },
  ],
  handler({ engine, caller }, args) {
    const owner = resolveOwner(engine, caller, args);
    const name = args.str('name')!;
    const key = parsePublicKey(args.str('publickey')!);
    const fingerprint = fingerprintOf(key);
    if (keyPairByName(engine.db, owner.accountId, name)) throw ApiError.param(`name: A key pair with name '${name}' already exists.`);
    const same = engine.db.prepare('SELECT name FROM ssh_keypairs WHERE account_id=? AND fingerprint=?').get(owner.accountId, fingerprint) as { name: string } | undefined;
    if (same) throw ApiError.param(`publickey: A key pair with key '${fingerprint}' already exists (named ${same.name}).`);
    const id = Number(
      engine.db
        .prepare('INSERT INTO ssh_keypairs (uuid, name, fingerprint, public_key, account_id, domain_id, created) VALUES (?,?,?,?,?,?,?)')
        .run(randomUUID(), name, fingerprint, key.line, owner.accountId, owner.domainId, now()).lastInsertRowid,
    );
    const row = engine.db.prepare('SELECT * FROM ssh_keypairs WHERE id=?').get(id) as KeyPairRow;
    engine.events.record({ type: 'REGISTER.SSH.KEYPAIR', description: `SSH key pair ${name} registered (${fingerprint})`, userId: caller.userId, accountId: owner.accountId, domainId: owner.domainId, resourceType: 'SSHKeyPair', resourceUuid: row.uuid });
    return keyPairResponse(engine.db, row);
  },
});
