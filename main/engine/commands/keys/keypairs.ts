/** The key-pair object of CloudStack's SSHKeyPairResponse, and the lookup of a name in an account. */
import type { Db } from '../../db/database.js';
import type { ApiObject } from '../../registry/types.js';
import type { KeyPairRow } from '../../ssh-keys/vm-keys.js';
import { PAGE_IDS, rowsFor } from '../../registry/list-page.js';

export function keyPairResponse(db: Db, row: KeyPairRow): ApiObject {
  return keyPairResponses(db, [row])[0]!;
}

/** The responses of a page of key pairs: their owners read in one statement. */
export function keyPairResponses(db: Db, rows: readonly KeyPairRow[]): ApiObject[] {
  const owners = rowsFor<{ id: number; account: string; domainid: string; domain: string }>(
    db, `SELECT a.id, a.name AS account, d.uuid AS domainid, d.name AS domain FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE a.id ${PAGE_IDS}`, [...new Set(rows.map((r) => r.account_id))], 'id',
  );
  return rows.map((row) => {
    const owner = owners.get(row.account_id)![0]!;
    return { id: row.uuid, name: row.name, fingerprint: row.fingerprint, account: owner.account, domainid: owner.domainid, domain: owner.domain, hasannotations: false };
  });
}

export function keyPairByName(db: Db, accountId: number, name: string): KeyPairRow | undefined {
  return db.prepare('SELECT * FROM ssh_keypairs WHERE account_id=? AND name=?').get(accountId, name) as KeyPairRow | undefined;
}
