/**
 * Backup repositories (CloudStack 4.20's addBackupRepository / listBackupRepositories /
 * deleteBackupRepository, for its NAS provider): a backup store on another machine, reached over
 * SSH. The admin names the account (ssh://address[:port], a username and a private key or
 * password); the store is the driver's own directory in that account's home, never a path the
 * admin names. On add, a host of the zone's driver connects once: the repository's host key is
 * pinned then (trust on first use) and every later use must see the same key. The credential is
 * sealed at rest, as hosts' are. The nas provider lists each repository of the zone as an
 * offering (its external id is the repository's uuid); backups of that offering go there.
 */
import { randomUUID } from 'node:crypto';
import type { BackupStoreSpec } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError, toApiError } from '../registry/errors.js';
import type { ApiObject } from '../registry/types.js';
import { noSuchEntity } from '../registry/command-scope.js';
import { csDate } from '../format.js';
import type { BackupOfferingRow, BackupRepositoryRow } from './rows.js';
import { zonesById } from '../views.js';

interface RepositorySecret {
  privateKey?: string;
  password?: string;
}

/** ssh://address[:port], nothing more: no path (the store is Kiln's), no user or password in it. */
export function canonicalAddress(address: string): string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw ApiError.param(`address: "${address}" is not a URL; a backup repository is ssh://address[:port]`);
  }
  if (url.protocol !== 'ssh:') throw ApiError.param(`address: a backup repository is reached over SSH (ssh://address[:port]), not ${url.protocol.replace(/:$/, '')}`);
  if (url.username || url.password) throw ApiError.param('address: put the account in username, not in the URL');
  if (url.pathname && url.pathname !== '/') throw ApiError.param(`address: no path (${url.pathname}): Kiln keeps its backups in its own directory in the account's home`);
  if (url.search || url.hash) throw ApiError.param('address: no query or fragment');
  if (!url.hostname) throw ApiError.param('address: no host in it');
  return `ssh://${url.hostname}:${url.port || '22'}`;
}

export function repositoryByUuid(engine: Engine, uuid: string, param: string): BackupRepositoryRow {
  const row = engine.db.prepare('SELECT * FROM backup_repositories WHERE uuid=? AND removed IS NULL').get(uuid) as BackupRepositoryRow | undefined;
  if (!row) throw noSuchEntity(param, uuid);
  return row;
}

export function repositoriesOf(engine: Engine, zoneId: number): BackupRepositoryRow[] {
  return engine.db.prepare('SELECT * FROM backup_repositories WHERE zone_id=? AND removed IS NULL ORDER BY id').all(zoneId) as BackupRepositoryRow[];
}

function specOf(engine: Engine, row: BackupRepositoryRow): BackupStoreSpec {
  const secret = JSON.parse(engine.secrets.open(row.secret)) as RepositorySecret;
  return {
    name: row.name,
    url: row.address,
    username: row.username,
    privateKey: secret.privateKey,
    password: secret.password,
    pinnedTrust: row.trust_kind && row.trust_fingerprint ? { kind: row.trust_kind, fingerprint: row.trust_fingerprint } : undefined,
  };
}

/** The store an offering writes to: its repository, or undefined for the VM's host's own store. */
export function storeOfOffering(engine: Engine, offering: BackupOfferingRow): BackupStoreSpec | undefined {
  const row = engine.db.prepare('SELECT * FROM backup_repositories WHERE uuid=?').get(offering.external_id) as BackupRepositoryRow | undefined;
  if (!row) return undefined;
  if (row.removed) throw new ApiError(530, `the backup repository ${row.name} of offering ${offering.name} was deleted`);
  return specOf(engine, row);
}

/** A host of the zone whose driver can reach backup stores (the repository is used from them). */
async function probingFacet(engine: Engine, zoneId: number) {
  const hosts = engine.db.prepare(`SELECT id FROM hosts WHERE zone_id=? AND removed IS NULL AND state='Up' ORDER BY id`).pluck().all(zoneId) as number[];
  for (const hostId of hosts) {
    const session = await engine.hosts.session(hostId).catch(() => undefined);
    if (session?.backup) return session.backup;
  }
  throw ApiError.param('zoneid: the zone has no Up host with a backup facet (KVM) to reach the repository from; add one first');
}

export async function addRepository(engine: Engine, input: { zoneId: number; name: string; address: string; username: string; privateKey?: string; password?: string; provider: string }): Promise<BackupRepositoryRow> {
  const address = canonicalAddress(input.address);
  if (!input.privateKey && !input.password) throw ApiError.param('privatekey: the repository account needs a private key (or a password)');
  if (engine.db.prepare('SELECT 1 FROM backup_repositories WHERE zone_id=? AND name=? AND removed IS NULL').get(input.zoneId, input.name)) {
    throw ApiError.param(`name: a backup repository named "${input.name}" already exists in this zone`);
  }
  const facet = await probingFacet(engine, input.zoneId);
  let trust;
  try {
    trust = await facet.probeStore({ url: address, username: input.username, privateKey: input.privateKey, password: input.password });
  } catch (error) {
    const api = toApiError(error);
    throw new ApiError(api.errorCode, `the backup repository ${input.username}@${address.slice('ssh://'.length)} cannot be used: ${api.message}`);
  }
  const uuid = randomUUID();
  engine.db
    .prepare('INSERT INTO backup_repositories (uuid, name, zone_id, provider, address, username, secret, trust_kind, trust_fingerprint, created) VALUES (?,?,?,?,?,?,?,?,?,?)')
    .run(uuid, input.name, input.zoneId, input.provider, address, input.username, engine.secrets.seal(JSON.stringify({ privateKey: input.privateKey, password: input.password } satisfies RepositorySecret)), trust.kind, trust.fingerprint, now());
  return repositoryByUuid(engine, uuid, 'id');
}

export function deleteRepository(engine: Engine, row: BackupRepositoryRow): void {
  const used = engine.db.prepare('SELECT name FROM backup_offerings WHERE external_id=? AND removed IS NULL').pluck().all(row.uuid) as string[];
  if (used.length > 0) throw ApiError.param(`id: backup repository ${row.name} is the store of backup offering(s) ${used.join(', ')}; delete them first`);
  engine.db.prepare('UPDATE backup_repositories SET removed=? WHERE id=?').run(now(), row.id);
}

export function repositoryResponse(engine: Engine, row: BackupRepositoryRow): ApiObject {
  return repositoryResponses(engine, [row])[0]!;
}

export function repositoryResponses(engine: Engine, rows: readonly BackupRepositoryRow[]): ApiObject[] {
  const zones = zonesById(engine.db, rows.map((r) => r.zone_id));
  return rows.map((row) => {
    const zone = zones.get(row.zone_id)!;
    return {
      id: row.uuid,
      name: row.name,
      address: row.address,
      type: 'ssh',
      provider: row.provider,
      zoneid: zone.uuid,
      zonename: zone.name,
      created: csDate(row.created),
      // Kiln: the account and the pinned host key.
      username: row.username,
      hostkeyfingerprint: row.trust_fingerprint ?? undefined,
    };
  });
}
