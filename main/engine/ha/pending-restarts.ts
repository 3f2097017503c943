/**
 * The HA restarts Kiln still owes (R13), kept in the database (ha_pending_restarts, migration 57)
 * rather than in the monitor's memory: a VM that waits for its Down host (a disk on that host's
 * local pool, restart-scope.ts) or whose restart failed and is tried again (HA_RETRY_MS) is still
 * restarted after Kiln is killed or closed and opened again on the same data directory.
 *
 * An entry holds the VM's row version (update_count) when HA last acted on it: any change since
 * (a user's start, even a failed one, a destroy, a recover) means someone else has the VM now, and
 * the monitor drops the entry instead of restarting it. The one change that is HA's own is a start
 * cut short by the Kiln that ran it stopping, and settled by the next (interruptedRestart). Times
 * are wall-clock milliseconds, so a retry window runs on while Kiln is closed; an entry without an
 * end (until NULL) is a VM bound to its host, which waits however long that takes.
 */
import type { Db } from '../db/database.js';
import { JobStatus } from '../jobs.js';

export interface PendingRestart {
  /** The VM's update_count when HA last acted on it. */
  updateCount: number;
  /** Until when to retry (epoch ms); Infinity: bound to its host, no end. */
  until: number;
  /** Why the VM went down, as HA's restart job and events say it. */
  reason: string;
  /** Failed restarts so far (the backoff's input). */
  attempts: number;
  /** Not retried before this (epoch ms), unless a host comes back or a copy is fenced. */
  nextAt: number;
  /** The host the VM went down on (where a bound VM waits to run again). */
  failedHostId: number | null;
  /** Why the VM cannot restart elsewhere (restart-scope.ts), while it waits for its host. */
  bound?: string;
}

interface Row { vm_id: number; update_count: number; until: number | null; reason: string; attempts: number; next_at: number; failed_host_id: number | null; bound: string | null }

const fromRow = (r: Row): PendingRestart => ({
  updateCount: r.update_count,
  until: r.until ?? Infinity,
  reason: r.reason,
  attempts: r.attempts,
  nextAt: r.next_at,
  failedHostId: r.failed_host_id,
  ...(r.bound !== null ? { bound: r.bound } : {}),
});

/** The pending HA restarts, by VM id; every call reads or writes the table (a handful of rows). */
export class PendingRestarts {
  constructor(private readonly db: Db) {}

  get(vmId: number): PendingRestart | undefined {
    const row = this.db.prepare('SELECT * FROM ha_pending_restarts WHERE vm_id=?').get(vmId) as Row | undefined;
    return row && fromRow(row);
  }

  set(vmId: number, entry: PendingRestart): void {
    const until = Number.isFinite(entry.until) ? entry.until : null;
    this.db
      .prepare(
        `INSERT INTO ha_pending_restarts (vm_id, update_count, until, reason, attempts, next_at, failed_host_id, bound, created)
         VALUES (@vmId, @updateCount, @until, @reason, @attempts, @nextAt, @failedHostId, @bound, @created)
         ON CONFLICT(vm_id) DO UPDATE SET update_count=excluded.update_count, until=excluded.until, reason=excluded.reason,
           attempts=excluded.attempts, next_at=excluded.next_at, failed_host_id=excluded.failed_host_id, bound=excluded.bound`,
      )
      .run({ vmId, updateCount: entry.updateCount, until, reason: entry.reason, attempts: entry.attempts, nextAt: entry.nextAt, failedHostId: entry.failedHostId, bound: entry.bound ?? null, created: new Date().toISOString() });
  }

  delete(vmId: number): void {
    this.db.prepare('DELETE FROM ha_pending_restarts WHERE vm_id=?').run(vmId);
  }

  /**
   * Whether the VM's latest job is an HA restart that a previous Kiln process (not OWNER) left
   * unfinished: the row changed since by that start and by its settling at the next open
   * (reconcileInterrupted), not by anyone acting on the VM, whose own job would be the latest.
   */
  interruptedRestart(vmUuid: string, owner: string): boolean {
    const last = this.db.prepare(`SELECT cmd, owner, status FROM async_jobs WHERE instance_uuid=? ORDER BY id DESC LIMIT 1`).get(vmUuid) as { cmd: string; owner: string; status: number } | undefined;
    return last?.cmd === 'HA.restart' && last.owner !== owner && last.status === JobStatus.FAILED;
  }

  /** Every pending restart, oldest VM first. */
  all(): [number, PendingRestart][] {
    return (this.db.prepare('SELECT * FROM ha_pending_restarts ORDER BY vm_id').all() as Row[]).map((r) => [r.vm_id, fromRow(r)]);
  }
}
