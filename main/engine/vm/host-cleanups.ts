/**
 * Work a host still owes Kiln: a domain to undefine and disks to delete, for a VM that was
 * destroyed or expunged while its host could not be reached. A VM in Error can always be destroyed
 * and expunged, so when the host does not answer the row goes on and the host's share is written
 * here (host_cleanups, migration 11); the expunge sweeper does it once the host answers again. The
 * definition is never forgotten: it stays named here until the host confirms it is gone.
 */
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { vmRef, type VmRow } from './rows.js';
import { ApiError, ErrorCode } from '../registry/errors.js';
import type { HostSession, InstanceInfo } from '../../../drivers/types.js';
import { isOwnInstance } from '../import/adopted-identity.js';

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

/**
 * True when the host did not answer: it could not be reached (isUnreachable), or a command timed
 * out. A timed-out command may or may not have run there, so what a destroy or an expunge could
 * not finish is owed (owe) rather than failed: the cleanup looks again when the host answers and
 * removes only the VM's own instance (its uuid: leftovers) and disks, so doing it twice is harmless.
 */
export function didNotAnswer(error: unknown): boolean {
  return isUnreachable(error) || (error as { category?: unknown } | null)?.category === 'timeout';
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
      let spared: string[] = [];
      let removed = false;
      if (!live) {
        // A row of disks alone (data disks of a destroy) still looks for a namesake using them.
        const name = row.domain ?? vm?.internal_name;
        const found = name !== undefined ? await leftovers(engine, session, name, vm) : { own: undefined, strangers: [] };
        // destroy deletes only the domain's disks: a config drive (a CD-ROM) owed with them goes after
        // (deleteDisks counts one already gone as deleted).
        if (found.own && row.domain !== null) {
          await session.destroy(found.own.ref, { removeDisks: disks });
          removed = true;
        }
        // A namesake that is not the VM's is left alone, and so is every disk it uses.
        const used = await disksOf(session, found.strangers);
        spared = disks.filter((d) => used.some((path) => path === d || path.endsWith(`/${d}`)));
        const doomed = disks.filter((d) => !spared.includes(d));
        if (doomed.length) await session.deleteDisks(doomed);
        for (const stranger of found.strangers) reportStranger(engine, row, vm, stranger, spared);
      }
      engine.db.prepare('DELETE FROM host_cleanups WHERE id=?').run(row.id);
      done++;
      const host = engine.db.prepare('SELECT name FROM hosts WHERE id=?').get(row.host_id) as { name: string } | undefined;
      engine.events.record({
        type: 'VM.EXPUNGE',
        description: `host ${host?.name ?? row.host_id} answered again: ${removed ? `definition ${row.domain} and ` : ''}${disks.length - spared.length} disk(s) removed there (${row.reason})${spared.length ? `; ${spared.length} disk(s) kept: another domain uses them` : ''}`,
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

/**
 * What a host holds under NAME (the VM's definition the row owes) or under the VM's ref (vSphere's
 * moref): OWN, the VM's own instance (its uuid is Kiln's, or the one its import adopted:
 * adopted-identity.ts), and STRANGERS, namesakes that are not (a domain defined later under the
 * name, another Kiln's), which are never removed.
 */
export async function leftovers(engine: Engine, session: HostSession, name: string, vm: VmRow | undefined): Promise<{ own: InstanceInfo | undefined; strangers: InstanceInfo[] }> {
  const ref = vm ? vmRef(vm) : undefined;
  const candidates = (await session.listInstances()).filter((i) => i.name === name || i.ref === name || (ref !== undefined && i.ref === ref));
  // No VM row left to tell by: the name is all there is (as before uuids were compared).
  const own = vm === undefined ? candidates[0] : candidates.find((i) => isOwnInstance(engine.db, vm, i));
  return { own, strangers: candidates.filter((i) => i !== own) };
}

/** The image paths the INSTANCES use (read through the import facet where listInstances carries no disks). */
async function disksOf(session: HostSession, instances: InstanceInfo[]): Promise<string[]> {
  const paths: string[] = [];
  for (const instance of instances) {
    let disks = instance.disks;
    if (disks.length === 0 && session.import) disks = (await session.import.inspect(instance.ref)).disks;
    for (const d of disks) if (d.imagePath) paths.push(d.imagePath);
  }
  return paths;
}

function reportStranger(engine: Engine, row: CleanupRow, vm: VmRow | undefined, stranger: InstanceInfo, spared: string[]): void {
  const host = engine.db.prepare('SELECT name FROM hosts WHERE id=?').get(row.host_id) as { name: string } | undefined;
  engine.events.record({
    type: 'VM.EXPUNGE',
    level: 'WARN',
    description: `host ${host?.name ?? row.host_id}: ${stranger.name} (${stranger.uuid ?? stranger.ref}) is not the definition Kiln removes for ${vm ? `VM ${vm.display_name} (${vm.uuid})` : row.reason}: it is another instance under the same name, left alone${spared.length ? ` with the disk(s) it uses (${spared.join(', ')})` : ''}`,
    accountId: vm?.account_id,
    domainId: vm?.domain_id,
    resourceType: vm ? 'VirtualMachine' : undefined,
    resourceUuid: vm?.uuid,
  });
}
