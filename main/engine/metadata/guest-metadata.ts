/**
 * A VM's metadata as cloud-init reads it (R62, R64), assembled from Kiln's database in one place:
 * the metadata HTTP service (metadata-service.ts) and the config drive (config-drive.ts) both
 * serve what `guestMetadata` returns, so the two delivery paths can never disagree.
 *
 * The keys are CloudStack's (UserVmManagerImpl's vm data): instance-id and vm-id are the VM's
 * uuid, local-hostname its hostname (R2), public-ipv4/public-hostname the NIC's address (Kiln has
 * no public IPs or source NAT, so a guest's public address is its own).
 */
import type { Db } from '../db/database.js';
import { keyPairNamesOfVm, publicKeysOfVm } from '../ssh-keys/vm-keys.js';

export interface GuestPublicKey {
  /** The key pair's name (or the name the VM was given the key under). */
  name: string;
  /** One OpenSSH public key line. */
  key: string;
}

export interface GuestMetadata {
  vmId: number;
  uuid: string;
  hostname: string;
  displayName: string;
  /** The CloudStack meta-data fields, in CloudStack's order. */
  fields: Record<MetadataField, string>;
  publicKeys: GuestPublicKey[];
  /** Decoded user data (not base64), or undefined when the VM has none. */
  userData?: Buffer;
}

/** The leaves under latest/meta-data/ that cloud-init's CloudStack datasource reads. */
export const METADATA_FIELDS = [
  'service-offering',
  'availability-zone',
  'local-ipv4',
  'local-hostname',
  'public-ipv4',
  'public-hostname',
  'instance-id',
  'vm-id',
  'public-keys',
  'cloud-identifier',
] as const;
export type MetadataField = (typeof METADATA_FIELDS)[number];

interface VmMetadataRow {
  id: number;
  uuid: string;
  hostname: string;
  display_name: string;
  user_data: string | null;
  zone_name: string;
  offering_name: string;
  offering_text: string;
  ip4_address: string | null;
}

/**
 * The public keys a VM was given (deploy keypair(s)=, resetSSHKeyForVirtualMachine), in order,
 * with the key pair names they were given under: helper J's vm_ssh_keys (ssh-keys/vm-keys.ts),
 * copied from the key pairs at deploy or reset as CloudStack copies them into the VM's details.
 */
export function vmPublicKeys(db: Db, vmId: number): GuestPublicKey[] {
  const names = keyPairNamesOfVm(db, vmId);
  return publicKeysOfVm(db, vmId).map((key, i) => ({ name: names[i] ?? `key-${i}`, key: key.trim() }));
}

/** The metadata of one VM, or undefined when it does not exist (any more). */
export function guestMetadata(db: Db, vmId: number): GuestMetadata | undefined {
  const row = db
    .prepare(
      `SELECT v.id, v.uuid, v.hostname, v.display_name, v.user_data, z.name AS zone_name, o.name AS offering_name, o.display_text AS offering_text,
              (SELECT n.ip4_address FROM nics n WHERE n.vm_id=v.id AND n.removed IS NULL ORDER BY n.is_default DESC, n.device_id LIMIT 1) AS ip4_address
       FROM vm_instances v JOIN zones z ON z.id=v.zone_id JOIN service_offerings o ON o.id=v.service_offering_id
       WHERE v.id=? AND v.state NOT IN ('Expunging','Expunged')`,
    )
    .get(vmId) as VmMetadataRow | undefined;
  if (!row) return undefined;
  const publicKeys = vmPublicKeys(db, row.id);
  const ip = row.ip4_address ?? '';
  return {
    vmId: row.id,
    uuid: row.uuid,
    hostname: row.hostname,
    displayName: row.display_name,
    fields: {
      'service-offering': row.offering_text || row.offering_name,
      'availability-zone': row.zone_name,
      'local-ipv4': ip,
      'local-hostname': row.hostname,
      'public-ipv4': ip,
      'public-hostname': ip,
      'instance-id': row.uuid,
      'vm-id': row.uuid,
      'public-keys': publicKeys.map((k) => k.key).join('\n'),
      'cloud-identifier': `CloudStack-{${row.uuid}}`,
    },
    publicKeys,
    userData: row.user_data ? Buffer.from(row.user_data, 'base64') : undefined,
  };
}

/**
 * The VM whose live NIC has ADDRESS, among NETWORKIDS when the listener serves only some networks.
 * Undefined when no VM has it, or when the address is ambiguous (the same IP in two networks
 * a listener serves): the service then answers nobody rather than a guess.
 */
export function vmByGuestAddress(db: Db, address: string, networkIds?: number[]): number | undefined {
  const ip = address.replace(/^::ffff:/i, '');
  const within = networkIds ? ` AND n.network_id IN (${networkIds.map(() => '?').join(',') || 'NULL'})` : '';
  const rows = db
    .prepare(
      `SELECT n.vm_id FROM nics n JOIN vm_instances v ON v.id=n.vm_id
       WHERE n.ip4_address=? AND n.removed IS NULL AND v.state NOT IN ('Destroyed','Expunging','Expunged','Error')${within}`,
    )
    .all(ip, ...(networkIds ?? [])) as { vm_id: number }[];
  return rows.length === 1 ? rows[0]!.vm_id : undefined;
}
