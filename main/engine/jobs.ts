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

export const JobStatus = { IN_PROGRESS: 0, SUCCEEDED: 1, FAILED: 2, CANCELLED: 3 } as const;

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

  /**
   * Marks jobs a previous process left in progress as failed; returns how many. One waiting on a
   * hypervisor task (hypervisor_task_ref) is left to reattachOrphan unless `withTasks`: the task
   * may finish without Kiln, and the restart reconcile picks it up.
   */
  recoverOrphans(withTasks = false): number {
    const result = this.db
      .prepare(`UPDATE async_jobs SET status=?, result_code=530, result=?, completed=? WHERE status=? AND owner<>?${withTasks ? '' : ' AND hypervisor_task_ref IS NULL'}`)
      .run(
        JobStatus.FAILED,
        JSON.stringify({ errorcode: 530, cserrorcode: 4250, errortext: 'Job interrupted: Kiln stopped while this job was in progress. Check the state of its resource before retrying.' }),
        now(),
        JobStatus.IN_PROGRESS,
        this.owner,
      );
    return result.changes;
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
