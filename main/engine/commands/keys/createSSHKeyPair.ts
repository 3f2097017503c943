import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';
import { resolveOwner } from '../../vm/deploy-input.js';
import { fingerprintOf, generateRsaKeyPair } from '../../ssh-keys/public-key.js';
import type { KeyPairRow } from '../../ssh-keys/vm-keys.js';
import { keyPairByName, keyPairResponse } from './keypairs.js';

export default defineCommand({
  name: 'createSSHKeyPair',
  description: 'Create a new 2048-bit RSA keypair and returns the private key. Kiln keeps only the public key: the private key is shown this once.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'keypair',
  params: [
    { name: 'name', type: 'string', required: true, description: 'Name of the keypair' },
    { name: 'account', type: 'string', description: 'an optional account for the ssh key. Must be used with domainId.' },
    { name: 'domainid', type: 'uuid', description: 'an optional domainId for the ssh key. If the account parameter is used, domainId must also be used.' },
  ],
  handler({ engine, caller }, args) {
    const owner = resolveOwner(engine, caller, args);
    const name = args.str('name')!;
    if (keyPairByName(engine.db, owner.accountId, name)) throw ApiError.param(`name: A key pair with name '${name}' already exists.`);
    const { publicKey, privateKey } = generateRsaKeyPair();
    const id = Number(
      engine.db
        .prepare('INSERT INTO ssh_keypairs (uuid, name, fingerprint, public_key, account_id, domain_id, created) VALUES (?,?,?,?,?,?,?)')
        .run(randomUUID(), name, fingerprintOf(publicKey), publicKey.line, owner.accountId, owner.domainId, now()).lastInsertRowid,
    );
    const row = engine.db.prepare('SELECT * FROM ssh_keypairs WHERE id=?').get(id) as KeyPairRow;
    engine.events.record({ type: 'REGISTER.SSH.KEYPAIR', description: `SSH key pair ${name} created (${row.fingerprint})`, userId: caller.userId, accountId: owner.accountId, domainId: owner.domainId, resourceType: 'SSHKeyPair', resourceUuid: row.uuid });
    return { ...keyPairResponse(engine.db, row), privatekey: privateKey };
  },
});
