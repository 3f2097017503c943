/**
 * Bulk runs (one parent run per bulk action): at most BULK_CONCURRENCY calls at once, each VM
 * followed to the end of its job, a per-VM result that keeps partial failures (with the API's
 * code and text) visible, progress as items finish, and no per-job notification.
 */
import { answer, apiError, deferred, invoke, push, settle } from './fake-bridge';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BULK_CONCURRENCY, progressOf, useBulk, type BulkRun } from '../../renderer/src/stores/bulk-store';
import { useJobs } from '../../renderer/src/stores/jobs-store';
import { VM_ACTIONS } from '../../renderer/src/actions/vm-actions';
import type { Vm } from '../../renderer/src/api/model';
import type { ApiEnvelope, ApiParams } from '../../preload/api';

const action = (id: string) => VM_ACTIONS.find((a) => a.id === id)!;
const vms = (...names: string[]): Vm[] => names.map((name) => ({ id: `id-${name}`, name, displayname: name, state: 'Running' }));
const current = (id: number): BulkRun => useBulk.getState().runs.find((r) => r.id === id)!;
const statuses = (run: BulkRun) => Object.fromEntries(run.items.map((i) => [i.name, i.status]));

const initialBulk = useBulk.getState();
const initialJobs = useJobs.getState();

beforeEach(() => {
  invoke.mockReset();
  useBulk.setState(initialBulk, true);
  useJobs.setState({ ...initialJobs, jobs: new Map(), notices: [], quiet: new Set() }, true);
});
afterEach(() => vi.useRealTimers());

describe('bulk runs', () => {
  it(`never runs more than ${BULK_CONCURRENCY} calls at once, and starts the next as one finishes`, async () => {
    expect(BULK_CONCURRENCY).toBe(3);
    const calls = new Map<string, ReturnType<typeof deferred<ApiEnvelope>>>();
    let inFlight = 0;
    let most = 0;
    answer({
      stopVirtualMachine: async (params: ApiParams) => {
        const call = deferred<ApiEnvelope>();
        calls.set(String(params['id']), call);
        inFlight++;
        most = Math.max(most, inFlight);
        const result = await call.promise;
        inFlight--;
        return result;
      },
      queryAsyncJobResult: (params) => ({ jobid: params['jobid'], jobstatus: 1, jobresult: { virtualmachine: {} } }),
    });
    const group = vms('a', 'b', 'c', 'd', 'e', 'f', 'g');
    const done = useBulk.getState().start(action('stop'), group);
    await settle();
    const runId = useBulk.getState().runs[0]!.id;
    expect([...calls.keys()]).toEqual(['id-a', 'id-b', 'id-c']);
    expect(statuses(current(runId))).toEqual({ a: 'running', b: 'running', c: 'running', d: 'queued', e: 'queued', f: 'queued', g: 'queued' });
    expect(progressOf(current(runId))).toEqual({ done: 0, succeeded: 0, failed: 0, total: 7 });

    // b finishes: d starts, nothing else.
    calls.get('id-b')!.resolve({ jobid: 'job-b' });
    await settle(30);
    expect([...calls.keys()]).toEqual(['id-a', 'id-b', 'id-c', 'id-d']);
    expect(statuses(current(runId))).toMatchObject({ a: 'running', b: 'succeeded', c: 'running', d: 'running', e: 'queued' });
    expect(progressOf(current(runId))).toMatchObject({ done: 1, succeeded: 1 });
    expect(current(runId).finished).toBeUndefined();

    // Finish the rest as they start (resolving a finished call again does nothing).
    let finished = false;
    void done.then(() => (finished = true));
    for (let i = 0; i < 20 && !finished; i++) {
      for (const [id, call] of calls) call.resolve({ jobid: `job-${id}` });
      await settle(30);
    }
    const run = await done;
    expect(most).toBe(BULK_CONCURRENCY);
    expect(calls.size).toBe(7);
    expect(progressOf(run)).toEqual({ done: 7, succeeded: 7, failed: 0, total: 7 });
    expect(run.finished).toBeGreaterThanOrEqual(run.started);
  });

  it('keeps each VM\'s result, partial failures included, with the API\'s code and text', async () => {
    answer({
      stopVirtualMachine: (params) => {
        switch (params['id']) {
          case 'id-ok-job':
            return { jobid: 'job-ok' };
          case 'id-refused':
            return apiError(431, 'only a Running VM can be stopped; refused is Stopped');
          case 'id-job-fails':
            return { jobid: 'job-fails' };
          default:
            return { success: true }; // a synchronous answer: done with no job
        }
      },
      queryAsyncJobResult: (params) =>
        params['jobid'] === 'job-fails'
          ? { jobid: 'job-fails', jobstatus: 2, jobresult: { errorcode: 530, errortext: 'host sim-host-2 did not answer' } }
          : { jobid: params['jobid'], jobstatus: 1, jobresult: { virtualmachine: { state: 'Stopped' } } },
    });
    const itemDone = vi.fn();
    const run = await useBulk.getState().start(action('stop'), vms('ok-job', 'refused', 'job-fails', 'ok-sync'), itemDone);
    expect(run.items).toEqual([
      { vmId: 'id-ok-job', name: 'ok-job', status: 'succeeded' },
      { vmId: 'id-refused', name: 'refused', status: 'failed', errorcode: 431, errortext: 'only a Running VM can be stopped; refused is Stopped' },
      { vmId: 'id-job-fails', name: 'job-fails', status: 'failed', errorcode: 530, errortext: 'host sim-host-2 did not answer' },
      { vmId: 'id-ok-sync', name: 'ok-sync', status: 'succeeded' },
    ]);
    expect(progressOf(run)).toEqual({ done: 4, succeeded: 2, failed: 2, total: 4 });
    expect(itemDone).toHaveBeenCalledTimes(4);
    expect(run).toMatchObject({ label: 'Stop', command: 'stopVirtualMachine' });
    // The run reports its jobs itself: they are marked quiet for the jobs panel, and nothing is notified here.
    expect([...useJobs.getState().quiet]).toEqual(['job-ok', 'job-fails']);
    expect(useJobs.getState().notices).toEqual([]);
  });

  it('calls the action\'s command with the action\'s parameters for each VM', async () => {
    answer({ stopVirtualMachine: () => ({ success: true }), destroyVirtualMachine: () => ({ success: true }) });
    await useBulk.getState().start(action('force-stop'), vms('x', 'y'));
    expect(invoke.mock.calls).toEqual([
      ['stopVirtualMachine', { id: 'id-x', forced: true }],
      ['stopVirtualMachine', { id: 'id-y', forced: true }],
    ]);
    invoke.mockClear();
    await useBulk.getState().start(action('destroy'), vms('z'));
    expect(invoke.mock.calls).toEqual([['destroyVirtualMachine', { id: 'id-z' }]]);
  });

  it('counts a VM done only when its job ends, reading the job when the jobs channel reports its end', async () => {
    vi.useFakeTimers();
    let polls = 0;
    let ended = false;
    answer({
      rebootVirtualMachine: () => ({ jobid: 'job-r' }),
      queryAsyncJobResult: () => (++polls, ended ? { jobid: 'job-r', jobstatus: 1, jobresult: {} } : { jobid: 'job-r', jobstatus: 0 }),
    });
    const done = useBulk.getState().start(action('reboot'), vms('slow'));
    await settle(30);
    const runId = useBulk.getState().runs[0]!.id;
    expect(statuses(current(runId))).toEqual({ slow: 'running' });
    push('jobs', { changed: [{ jobid: 'job-r', cmd: 'rebootVirtualMachine', status: 0, progress: 50 }], removed: [] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(statuses(current(runId))).toEqual({ slow: 'running' });
    expect(polls).toBe(1);
    ended = true;
    push('jobs', { changed: [{ jobid: 'job-r', cmd: 'rebootVirtualMachine', status: 1, progress: 100 }], removed: [] });
    const run = await done;
    expect(polls).toBe(2);
    expect(statuses(run)).toEqual({ slow: 'succeeded' });
  });

  it('a transport failure fails that VM only', async () => {
    answer({ startVirtualMachine: (params) => (params['id'] === 'id-b' ? Promise.reject(new Error('Kiln answered 502 Bad Gateway')) : { success: true }) });
    const run = await useBulk.getState().start(action('start'), vms('a', 'b', 'c'));
    expect(statuses(run)).toEqual({ a: 'succeeded', b: 'failed', c: 'succeeded' });
    expect(run.items[1]).toMatchObject({ errortext: 'Kiln answered 502 Bad Gateway', errorcode: undefined });
  });

  it('lists runs newest first, each on its own, and dismisses one', async () => {
    answer({ stopVirtualMachine: () => ({ success: true }), startVirtualMachine: () => apiError(431, 'no') });
    const first = await useBulk.getState().start(action('stop'), vms('a'));
    const second = await useBulk.getState().start(action('start'), vms('a', 'b'));
    expect(useBulk.getState().runs.map((r) => r.id)).toEqual([second.id, first.id]);
    expect(progressOf(first)).toMatchObject({ succeeded: 1, failed: 0 });
    expect(progressOf(second)).toMatchObject({ succeeded: 0, failed: 2 });
    useBulk.getState().dismiss(second.id);
    expect(useBulk.getState().runs.map((r) => r.id)).toEqual([first.id]);
  });

  it('finishes at once with nothing selected', async () => {
    const run = await useBulk.getState().start(action('stop'), []);
    expect(invoke).not.toHaveBeenCalled();
    expect(progressOf(run)).toEqual({ done: 0, succeeded: 0, failed: 0, total: 0 });
    expect(run.finished).toBeDefined();
  });
});
