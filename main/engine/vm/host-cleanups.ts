/**
 * Work a host still owes Kiln: a domain to undefine and disks to delete, for a VM that was
 * destroyed or expunged while its host could not be reached. A VM in Error can always be destroyed
 * and expunged, so when the host does not answer the row goes on and the host's share is written
 * here (host_cleanups, migration 11); the expunge sweeper does it once the host answers again. The
 * definition is never forgotten: it stays named here until the host confirms it is gone.
 */
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import type { VmRow } from './rows.js';
import { ApiError, ErrorCode } from '../registry/errors.js';

interface CleanupRow {
  id: number;
  host_id: number;
  vm_id: number | null;
  domain: string | null;
  disks: string;
  reason: string;
}

/**
 * True when the error says the host could not be reached (not that it refused the operation): a
 * driver's `unreachable`, or the host manager's 534 for a connect that failed.
 */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof ApiError) return error.errorCode === ErrorCode.RESOURCE_UNAVAILABLE;
  return (error as { category?: unknown } | null)?.category === 'unreachable';
}

/** Records that HOSTID must still lose DOMAIN (when given) and DISKS. */
export function owe(engine: Engine, hostId: number, vm: VmRow, work: { domain?: string; disks: string[]; reason: string }): void {
  engine.db
    .prepare('INSERT INTO host_cleanups (host_id, vm_id, domain, disks, reason, created) VALUES (?,?,?,?,?,?)')
    .run(hostId, vm.id, work.domain ?? null, JSON.stringify(work.disks), work.reason, now());
  const host = engine.db.prepare('SELECT name FROM hosts WHERE id=?').get(hostId) as { name: string } | undefined;
  engine.events.record({
    type: 'VM.EXPUNGE',
    level: 'WARN',
    description: `VM ${vm.display_name} (${vm.uuid}): host ${host?.name ?? hostId} could not be reached; ${work.domain ? `its definition ${work.domain} and ` : ''}${work.disks.length} disk(s) will be removed there when it answers (${work.reason})`,
    accountId: vm.account_id,
    domainId: vm.domain_id,
    resourceType: 'VirtualMachine',
    resourceUuid: vm.uuid,
  });
}

/**
 * Does what the hosts owe, for every host that answers; a host that still does not is left for
 * the next run. Nothing is removed for a VM that is live again (recovered after a destroy).
 * Returns how many rows were done.
 */
export async function runHostCleanups(engine: Engine): Promise<number> {
  const rows = engine.db.prepare('SELECT * FROM host_cleanups ORDER BY id').all() as CleanupRow[];
  let done = 0;
  for (const row of rows) {
    try {
      const session = await engine.hosts.session(row.host_id);
      const disks = JSON.parse(row.disks) as string[];
      // A VM recovered meanwhile owns its definition and disks again: the debt is void.
      const vm = row.vm_id !== null ? (engine.db.prepare('SELECT * FROM vm_instances WHERE id=?').get(row.vm_id) as VmRow | undefined) : undefined;
      const live = vm !== undefined && !['Destroyed', 'Expunging', 'Expunged'].includes(vm.state);
      if (!live) {
        // Only a domain with the VM's own UUID is Kiln's: a namesake may belong to another Kiln sharing the host.
        const found = row.domain !== null ? (await session.listInstances()).find((i) => i.name === row.domain) : undefined;
        const ours = found !== undefined && (found.uuid === undefined || vm === undefined || found.uuid === vm.uuid);
        // destroy deletes only the domain's disks: a config drive (a CD-ROM) owed with them goes after
        // (deleteDisks counts one already gone as deleted).
        if (ours) await session.destroy(row.domain!, { removeDisks: disks });
        if (disks.length) await session.deleteDisks(disks);
      }
      engine.db.prepare('DELETE FROM host_cleanups WHERE id=?').run(row.id);
      done++;
      const host = engine.db.prepare('SELECT name FROM hosts WHERE id=?').get(row.host_id) as { name: string } | undefined;
      engine.events.record({
        type: 'VM.EXPUNGE',
        description: `host ${host?.name ?? row.host_id} answered again: ${row.domain ? `definition ${row.domain} and ` : ''}${disks.length} disk(s) removed there (${row.reason})`,
        accountId: vm?.account_id,
        domainId: vm?.domain_id,
        resourceType: vm ? 'VirtualMachine' : undefined,
        resourceUuid: vm?.uuid,
      });
    } catch (error) {
      engine.log.warn(`host ${row.host_id} still owes cleanup ${row.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return done;
}
