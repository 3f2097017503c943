/**
 * Async jobs, persisted in SQLite like CloudStack's async_job table. A job row is written before
 * the work starts and updated when it ends, so queryAsyncJobResult answers from the database
 * alone. Jobs left IN_PROGRESS by a process that died are marked FAILED on the next start with
 * a message saying so: they are reported, never silently dropped.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Db } from './db/database.js';
import { now } from './db/database.js';
import { ApiError, toApiError } from './registry/errors.js';
import type { Args } from './registry/params.js';
import type { ApiObject, AsyncWork, Caller, CommandDef } from './registry/types.js';
import { csDate } from './format.js';
import { ALL_ROWS, queryPage, type ListPage, type PageWindow } from './registry/list-page.js';
import type { JobUpdate } from '../../preload/api.js';
import { TRANSIENT_STATES } from './vm/states.js';

export const JobStatus = { IN_PROGRESS: 0, SUCCEEDED: 1, FAILED: 2, CANCELLED: 3 } as const;

/** The objects an interrupted job's words name, by jobinstancetype: the row's name and state, and the states a job leaves them in. */
const INSTANCE_KINDS: Record<string, { word: string; sql: string; transient: readonly string[] }> = {
  VirtualMachine: { word: 'VM', sql: 'SELECT display_name AS name, state FROM vm_instances WHERE uuid=?', transient: TRANSIENT_STATES },
  Volume: { word: 'volume', sql: 'SELECT name, state FROM volumes WHERE uuid=?', transient: ['Creating', 'Attaching', 'Resizing', 'Expunging'] },
  VMSnapshot: { word: 'VM snapshot', sql: 'SELECT display_name AS name, state FROM vm_snapshots WHERE uuid=?', transient: ['Creating', 'Reverting', 'Expunging'] },
  Backup: { word: 'backup', sql: 'SELECT name, status AS state FROM backups WHERE uuid=?', transient: ['Queued', 'BackingUp', 'Restoring'] },
};

/** A job's owner as the list query joins it in (queryAsyncJobResult reads it on its own). */
interface JobOwner {
  owner_account: string | null;
  owner_user: string | null;
}
const OWNER_COLUMNS = 'oa.uuid AS owner_account, ou.uuid AS owner_user';
const OWNER_JOIN = 'LEFT JOIN accounts oa ON oa.id=j.account_id LEFT JOIN users ou ON ou.id=j.user_id';

interface JobRow {
  id: number;
  uuid: string;
  user_id: number | null;
  account_id: number | null;
  cmd: string;
  status: number;
  proc_status: number;
  result_code: number;
  result_type: string;
  result: string | null;
  instance_type: string | null;
  instance_uuid: string | null;
  created: string;
  completed: string | null;
}

/** The job-progress message is part of the bridge contract the renderer shares. */
export type { JobUpdate } from '../../preload/api.js';

export class JobManager {
  /** One process instance id; rows owned by another owner and still in progress are orphans. */
  readonly owner = randomUUID();
  readonly updates = new EventEmitter();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly db: Db) {}

  /** The jobs this process's recovery failed, by the object they worked on (settledAfterRestart finishes their words). */
  private readonly recovered = new Map<string, { uuid: string; cmd: string; base: string }[]>();

  /**
   * Marks jobs a previous process left in progress as failed; returns how many. One waiting on a
   * hypervisor task (hypervisor_task_ref) is left to reattachOrphan unless `withTasks`: the task
   * may finish without Kiln, and the restart reconcile picks it up. Each one's error names what it
   * was doing (its command, and the VM or volume by name) and the state it left that in; the
   * restart's reconcile then says how it settled the VM (settledAfterRestart).
   */
  recoverOrphans(withTasks = false): number {
    const rows = this.db
      .prepare(`SELECT uuid, cmd, instance_type, instance_uuid FROM async_jobs WHERE status=? AND owner<>?${withTasks ? '' : ' AND hypervisor_task_ref IS NULL'} ORDER BY id`)
      .all(JobStatus.IN_PROGRESS, this.owner) as { uuid: string; cmd: string; instance_type: string | null; instance_uuid: string | null }[];
    const fail = this.db.prepare('UPDATE async_jobs SET status=?, result_code=530, result=?, completed=? WHERE uuid=? AND status=?');
    let changes = 0;
    this.db.transaction(() => {
      for (const row of rows) {
        const { base, advice } = this.interruptedWords(row);
        const done = fail.run(JobStatus.FAILED, JSON.stringify({ errorcode: 530, cserrorcode: 4250, errortext: `${base} ${advice}` }), now(), row.uuid, JobStatus.IN_PROGRESS).changes;
        changes += done;
        if (done && row.instance_uuid) this.recovered.set(row.instance_uuid, [...(this.recovered.get(row.instance_uuid) ?? []), { uuid: row.uuid, cmd: row.cmd, base }]);
      }
    })();
    return changes;
  }

  /** "Job interrupted: Kiln stopped while this job was in progress: CMD of VM web (uuid), which it left Stopping." and what to do. */
  private interruptedWords(row: { cmd: string; instance_type: string | null; instance_uuid: string | null }): { base: string; advice: string } {
    const lead = `Job interrupted: Kiln stopped while this job was in progress: ${row.cmd}`;
    const uuid = row.instance_uuid;
    const kind = row.instance_type ? INSTANCE_KINDS[row.instance_type] : undefined;
    const object = uuid !== null && kind ? (this.db.prepare(kind.sql).get(uuid) as { name: string; state: string } | undefined) : undefined;
    if (!kind || !object) return { base: `${lead}${uuid ? ` of ${row.instance_type ?? 'object'} ${uuid}` : ''}.`, advice: 'Check the state of its resource before retrying.' };
    const transient = kind.transient.includes(object.state);
    return {
      base: `${lead} of ${kind.word} ${object.name} (${uuid}), which ${transient ? 'it left' : 'is'} ${object.state}.`,
      advice: `${transient ? `Kiln settles the ${kind.word} at start; check` : 'Check'} its state before retrying.`,
    };
  }

  /** The interrupted job of INSTANCE (failed by this process's recovery, or still in progress from another), for the notes that settle it. */
  interruptedJob(instanceUuid: string): { uuid: string; cmd: string } | undefined {
    const recovered = this.recovered.get(instanceUuid)?.at(-1);
    if (recovered) return recovered;
    return this.db.prepare('SELECT uuid, cmd FROM async_jobs WHERE instance_uuid=? AND status=? AND owner<>? ORDER BY id DESC LIMIT 1').get(instanceUuid, JobStatus.IN_PROGRESS, this.owner) as { uuid: string; cmd: string } | undefined;
  }

  /** After the restart's reconcile settled INSTANCE: the jobs the recovery failed on it end by saying HOW it was left. */
  settledAfterRestart(instanceUuid: string, how: string): void {
    for (const job of this.recovered.get(instanceUuid) ?? []) {
      this.db.prepare('UPDATE async_jobs SET result=? WHERE uuid=? AND status=?').run(JSON.stringify({ errorcode: 530, cserrorcode: 4250, errortext: `${job.base} ${how}` }), job.uuid, JobStatus.FAILED);
    }
    this.recovered.delete(instanceUuid);
  }

  /** Records the hypervisor task a job waits on (OperationOptions.onTask), so a restart can reattach to it. */
  recordTask(uuid: string, taskRef: string): void {
    this.db.prepare('UPDATE async_jobs SET hypervisor_task_ref=? WHERE uuid=?').run(taskRef, uuid);
  }

  /** The job a previous process left waiting on a hypervisor task for this VM, if any. */
  orphanTask(vmUuid: string): { uuid: string; taskRef: string } | undefined {
    return this.db
      .prepare(`SELECT uuid, hypervisor_task_ref AS taskRef FROM async_jobs WHERE instance_uuid=? AND status=? AND owner<>? AND hypervisor_task_ref IS NOT NULL ORDER BY id DESC LIMIT 1`)
      .get(vmUuid, JobStatus.IN_PROGRESS, this.owner) as { uuid: string; taskRef: string } | undefined;
  }

  /** Ends a job a previous process left, after its hypervisor task was reattached and settled. */
  finishOrphan(uuid: string, outcome: { ok: true; result: ApiObject } | { ok: false; message: string }): void {
    if (outcome.ok) this.finish(uuid, JobStatus.SUCCEEDED, 0, outcome.result);
    else this.finish(uuid, JobStatus.FAILED, 530, { errorcode: 530, cserrorcode: 4250, errortext: outcome.message });
  }

  /** A job the engine starts on its own (HA restarts, scheduled backups), recorded like any API job; RESPONSE is its result's key. */
  submitInternal(caller: Caller, cmd: string, work: AsyncWork, response = 'virtualmachine'): string {
    const def = { name: cmd, response, sensitive: [] } as unknown as CommandDef;
    return this.submit(caller, def, { toJSON: () => ({}) } as unknown as Args, work);
  }

  submit(caller: Caller, def: CommandDef, args: Args, work: AsyncWork): string {
    const uuid = randomUUID();
    const params = { ...args.toJSON() };
    for (const key of def.sensitive ?? []) if (key in params) params[key] = '********';
    this.db
      .prepare(
        `INSERT INTO async_jobs (uuid, user_id, account_id, cmd, params, status, instance_type, instance_uuid, owner, created)
         VALUES (?,?,?,?,?,0,?,?,?,?)`,
      )
      .run(uuid, caller.userId, caller.accountId, def.name, JSON.stringify(params), work.instanceType ?? null, work.instanceId ?? null, this.owner, now());
    const update = (status: number, progress: number, message?: string) =>
      this.updates.emit('job', { jobid: uuid, cmd: def.name, status, progress, message, instanceType: work.instanceType, instanceId: work.instanceId, accountId: caller.accountId } satisfies JobUpdate);

    const execute = async () => {
      update(JobStatus.IN_PROGRESS, 0);
      try {
        const result = await work.run({
          uuid,
          progress: (percent, message) => {
            this.db.prepare('UPDATE async_jobs SET proc_status=? WHERE uuid=?').run(Math.round(percent), uuid);
            update(JobStatus.IN_PROGRESS, percent, message);
          },
        });
        const jobResult = result === undefined ? { success: true } : def.response === 'success' ? { success: true, ...result } : { [def.response]: result };
        this.finish(uuid, JobStatus.SUCCEEDED, 0, jobResult);
        update(JobStatus.SUCCEEDED, 100);
      } catch (error) {
        const apiError = toApiError(error);
        const body: ApiObject = { errorcode: apiError.errorCode, cserrorcode: apiError.csErrorCode, errortext: apiError.message };
        if (apiError.details && (apiError.errorCode !== 533 || caller.role === 'Admin')) Object.assign(body, apiError.details);
        this.finish(uuid, JobStatus.FAILED, apiError.errorCode, body);
        update(JobStatus.FAILED, 100, apiError.message);
      }
    };

    const key = work.queueKey;
    const previous = key ? this.queues.get(key) ?? Promise.resolve() : Promise.resolve();
    const next = previous.then(() => new Promise<void>((resolve) => setImmediate(() => execute().finally(resolve))));
    if (key) {
      this.queues.set(key, next);
      void next.finally(() => {
        if (this.queues.get(key) === next) this.queues.delete(key);
      });
    }
    this.running.add(next);
    void next.finally(() => this.running.delete(next));
    return uuid;
  }

  private finish(uuid: string, status: number, code: number, result: ApiObject): void {
    this.db
      .prepare('UPDATE async_jobs SET status=?, result_code=?, result=?, proc_status=100, completed=? WHERE uuid=?')
      .run(status, code, JSON.stringify(result), now(), uuid);
  }

  /** Resolves when every job submitted so far has finished (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Waits for one job and returns its response object (for the CLI and IPC conveniences). */
  async wait(uuid: string, timeoutMs = 600_000): Promise<ApiObject> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = this.get(uuid);
      if (!job) throw ApiError.param(`jobid: no job ${uuid}`);
      if (job.jobstatus !== JobStatus.IN_PROGRESS) return job;
      if (Date.now() > deadline) throw new ApiError(530, `job ${uuid} did not finish in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get(uuid: string): ApiObject | undefined {
    const row = this.db.prepare('SELECT * FROM async_jobs WHERE uuid=?').get(uuid) as JobRow | undefined;
    return row ? this.toResponse(row) : undefined;
  }

  /** One page of the jobs FILTER matches, newest first; the owner's ids come from the same query, not one per job. */
  list(filter: { accountId?: number; startDate?: string }, window: PageWindow = ALL_ROWS): ListPage {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.accountId !== undefined) {
      where.push('j.account_id=?');
      values.push(filter.accountId);
    }
    if (filter.startDate) {
      where.push('j.created>=?');
      values.push(new Date(filter.startDate).toISOString());
    }
    return queryPage<JobRow & JobOwner>(
      this.db,
      window,
      { select: `j.*, ${OWNER_COLUMNS}`, from: `FROM async_jobs j ${OWNER_JOIN} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}`, values, orderBy: 'j.id DESC' },
      (rows) => rows.map((row) => this.toResponse(row, row)),
    );
  }

  ownerAccountOf(uuid: string): number | undefined {
    const row = this.db.prepare('SELECT account_id FROM async_jobs WHERE uuid=?').get(uuid) as { account_id: number } | undefined;
    return row?.account_id;
  }

  private toResponse(row: JobRow, owner?: JobOwner): ApiObject {
    const ids =
      owner ??
      (this.db
        .prepare('SELECT a.uuid AS owner_account, u.uuid AS owner_user FROM accounts a LEFT JOIN users u ON u.id=? WHERE a.id=?')
        .get(row.user_id, row.account_id) as JobOwner | undefined);
    const out: ApiObject = {
      accountid: ids?.owner_account ?? undefined,
      userid: ids?.owner_user ?? undefined,
      cmd: row.cmd,
      jobstatus: row.status,
      jobprocstatus: row.proc_status,
      jobresultcode: row.result_code,
      jobresulttype: row.result_type,
      created: csDate(row.created),
      jobid: row.uuid,
    };
    if (row.result) out['jobresult'] = JSON.parse(row.result) as unknown;
    if (row.instance_type) out['jobinstancetype'] = row.instance_type;
    if (row.instance_uuid) out['jobinstanceid'] = row.instance_uuid;
    if (row.completed) out['completed'] = csDate(row.completed);
    return out;
  }
}
