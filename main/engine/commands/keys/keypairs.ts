/** The key-pair object of CloudStack's SSHKeyPairResponse, and the lookup of a name in an account. */
import type { Db } from '../../db/database.js';
import type { ApiObject } from '../../registry/types.js';
import type { KeyPairRow } from '../../ssh-keys/vm-keys.js';

export function keyPairResponse(db: Db, row: KeyPairRow): ApiObject {
  const owner = db.prepare('SELECT a.name AS account, d.uuid AS domainid, d.name AS domain FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id=?').get(row.account_id) as { account: string; domainid: string; domain: string };
  return { id: row.uuid, name: row.name, fingerprint: row.fingerprint, account: owner.account, domainid: owner.domainid, domain: owner.domain, hasannotations: false };
}

export function keyPairByName(db: Db, accountId: number, name: string): KeyPairRow | undefined {
  return db.prepare('SELECT * FROM ssh_keypairs WHERE account_id=? AND name=?').get(accountId, name) as KeyPairRow | undefined;
}
