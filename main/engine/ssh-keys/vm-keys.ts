/**
 * The public keys a VM was given (deployVirtualMachine keypair(s)=, resetSSHKeyForVirtualMachine).
 * They are copied, not referenced: deleting a key pair later does not take a key away from a guest,
 * as CloudStack keeps the key in the VM's details. The metadata service and config drive read
 * publicKeysOfVm; the VM response reads the names.
 */
import type { Db } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import { PAGE_IDS, rowsFor } from '../registry/list-page.js';

export interface KeyPairRow {
  id: number;
  uuid: string;
  name: string;
  fingerprint: string;
  public_key: string;
  account_id: number;
  domain_id: number;
  created: string;
}

/**
 * The key pairs named by keypair= and keypairs= in the owner's account (duplicates once), or a 431
 * naming the parameter. Another account's key pair is not found, as in CloudStack.
 */
export function resolveKeyPairs(db: Db, accountId: number, keypair: string | undefined, keypairs: string[] | undefined): KeyPairRow[] {
  const named: [string, string][] = [...(keypair ? [[keypair, 'keypair'] as [string, string]] : []), ...(keypairs ?? []).map((k) => [k, 'keypairs'] as [string, string])];
  const out: KeyPairRow[] = [];
  for (const [name, param] of named) {
    if (out.some((k) => k.name === name)) continue;
    const row = db.prepare('SELECT * FROM ssh_keypairs WHERE account_id=? AND name=?').get(accountId, name) as KeyPairRow | undefined;
    if (!row) throw ApiError.param(`${param}: A key pair with name '${name}' was not found.`);
    out.push(row);
  }
  return out;
}

/** Replaces the VM's keys with KEYS (in one statement group; call inside the caller's transaction). */
export function setVmKeys(db: Db, vmId: number, keys: Pick<KeyPairRow, 'name' | 'public_key'>[]): void {
  db.prepare('DELETE FROM vm_ssh_keys WHERE vm_id=?').run(vmId);
  const insert = db.prepare('INSERT INTO vm_ssh_keys (vm_id, position, keypair_name, public_key) VALUES (?,?,?,?)');
  keys.forEach((k, i) => insert.run(vmId, i, k.name, k.public_key));
}

/** The OpenSSH public key lines of a VM, in the order given, for the guest's authorized_keys. */
export function publicKeysOfVm(db: Db, vmId: number): string[] {
  return (db.prepare('SELECT public_key FROM vm_ssh_keys WHERE vm_id=? ORDER BY position').all(vmId) as { public_key: string }[]).map((r) => r.public_key);
}

/** The names of the key pairs a VM was given, as the VM response's `keypairs` shows them. */
export function keyPairNamesOfVm(db: Db, vmId: number): string[] {
  return (db.prepare('SELECT keypair_name FROM vm_ssh_keys WHERE vm_id=? ORDER BY position').all(vmId) as { keypair_name: string }[]).map((r) => r.keypair_name);
}

/** The key-pair names of a page of VMs, by VM id, in one statement. */
export function keyPairNamesForPage(db: Db, vmIds: readonly number[]): Map<number, string[]> {
  const rows = rowsFor<{ vm_id: number; keypair_name: string }>(db, `SELECT vm_id, keypair_name FROM vm_ssh_keys WHERE vm_id ${PAGE_IDS} ORDER BY vm_id, position`, vmIds, 'vm_id');
  return new Map([...rows].map(([id, list]) => [Number(id), list.map((r) => r.keypair_name)]));
}
