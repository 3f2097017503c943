/**
 * The jobs store as the 'jobs' subscription drives it: progress updates per job, the last
 * message kept, finished jobs bounded, notices for finished and failed jobs (and how long they
 * stay); and following one job to its end over the bridge (waitForJob, JobFailedError).
 */
import { answer, invoke, listenerCount, push } from './fake-bridge';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeCommand, finishedNotice, useJobs } from '../../renderer/src/stores/jobs-store';
import { invokeAndWait, JOB_FAILED, JOB_IN_PROGRESS, JOB_SUCCEEDED, JobFailedError, waitForJob } from '../../renderer/src/api/jobs';
import type { JobUpdate } from '../../preload/api';

const initial = useJobs.getState();
const jobs = () => useJobs.getState().jobs;
const running = () => [...jobs().values()].filter((j) => j.status === JOB_IN_PROGRESS).map((j) => j.jobid);

function update(jobid: string, status: number, progress: number, extra: Partial<JobUpdate> = {}): JobUpdate {
  return { jobid, cmd: 'deployVirtualMachine', status, progress, instanceType: 'VirtualMachine', instanceId: `vm-${jobid}`, ...extra };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-01-01T00:00:00Z'));
  invoke.mockReset();
  useJobs.setState({ ...initial, jobs: new Map(), notices: [], quiet: new Set() }, true);
});
afterEach(() => vi.useRealTimers());

describe('job progress', () => {
  it('follows a job from its first update to its end', () => {
    const { apply } = useJobs.getState();
    apply(update('j1', JOB_IN_PROGRESS, 0, { message: 'choosing a host' }));
    expect(jobs().get('j1')).toMatchObject({ status: JOB_IN_PROGRESS, progress: 0, message: 'choosing a host' });
    vi.advanceTimersByTime(100);
    apply(update('j1', JOB_IN_PROGRESS, 40));
    // A later update without a message keeps the last one shown.
    expect(jobs().get('j1')).toMatchObject({ progress: 40, message: 'choosing a host' });
    apply(update('j1', JOB_IN_PROGRESS, 70, { message: 'starting the domain on kvm-1' }));
    expect(jobs().get('j1')).toMatchObject({ progress: 70, message: 'starting the domain on kvm-1' });
    expect(running()).toEqual(['j1']);
    apply(update('j1', JOB_SUCCEEDED, 100));
    expect(jobs().get('j1')).toMatchObject({ status: JOB_SUCCEEDED, progress: 100 });
    expect(running()).toEqual([]);
  });

  it('keeps several jobs apart, each a new Map (so subscribers re-render)', () => {
    const { apply } = useJobs.getState();
    apply(update('a', JOB_IN_PROGRESS, 10));
    const before = jobs();
    apply(update('b', JOB_IN_PROGRESS, 50));
    expect(jobs()).not.toBe(before);
    apply(update('a', JOB_FAILED, 10, { message: 'no host can take the VM' }));
    expect(jobs().get('a')).toMatchObject({ status: JOB_FAILED, message: 'no host can take the VM' });
    expect(jobs().get('b')).toMatchObject({ status: JOB_IN_PROGRESS, progress: 50 });
  });

  it('keeps the 30 most recently finished jobs and every running one', () => {
    const { apply } = useJobs.getState();
    apply(update('long-1', JOB_IN_PROGRESS, 5));
    apply(update('long-2', JOB_IN_PROGRESS, 5));
    for (let i = 0; i < 35; i++) {
      vi.advanceTimersByTime(10);
      apply(update(`done-${i}`, i % 3 ? JOB_SUCCEEDED : JOB_FAILED, 100));
    }
    const ids = [...jobs().keys()];
    expect(ids.filter((id) => id.startsWith('done-'))).toHaveLength(30);
    for (let i = 0; i < 5; i++) expect(jobs().has(`done-${i}`)).toBe(false);
    expect(jobs().has('done-5')).toBe(true);
    expect(running()).toEqual(['long-1', 'long-2']);
  });
});

describe('notices', () => {
  it('says a job finished or failed (with its reason), and nothing while it runs', () => {
    expect(finishedNotice(update('j', JOB_SUCCEEDED, 100), 'Stop VM web-1')).toEqual({ kind: 'success', text: 'Stop VM web-1 finished' });
    expect(finishedNotice(update('j', JOB_FAILED, 30, { message: 'host unreachable' }), 'Start VM web-1')).toEqual({ kind: 'error', text: 'Start VM web-1 failed: host unreachable' });
    expect(finishedNotice(update('j', JOB_FAILED, 30), 'Start VM web-1')).toEqual({ kind: 'error', text: 'Start VM web-1 failed' });
    expect(finishedNotice(update('j', JOB_IN_PROGRESS, 30), 'Start VM web-1')).toBeUndefined();
  });

  it('names the command in words', () => {
    expect(describeCommand('stopVirtualMachine', 'web-1')).toBe('Stop VM web-1');
    expect(describeCommand('deployVirtualMachine')).toBe('Deploy VM');
    expect(describeCommand('updateVMAffinityGroup', 'web-1')).toBe('Update affinity groups of VM web-1');
    expect(describeCommand('createSnapshot', 'root')).toBe('Create snapshot root');
    expect(describeCommand('detachIso', 'web-1')).toBe('Detach ISO web-1');
    expect(describeCommand('resetSSHKeyForVirtualMachine')).toBe('Reset SSH key for VM');
    expect(describeCommand('createVMSnapshot')).toBe('Create VM snapshot');
  });

  it('shows the last three, and lets successes go after 6 s and errors after 15 s', () => {
    const { notify } = useJobs.getState();
    notify('success', 'one');
    notify('error', 'two');
    notify('success', 'three');
    notify('info', 'four');
    expect(useJobs.getState().notices.map((n) => n.text)).toEqual(['two', 'three', 'four']);
    vi.advanceTimersByTime(6_000);
    expect(useJobs.getState().notices.map((n) => n.text)).toEqual(['two']);
    vi.advanceTimersByTime(9_000);
    expect(useJobs.getState().notices).toEqual([]);
  });

  it('dismisses one notice by id', () => {
    const { notify, dismiss } = useJobs.getState();
    notify('error', 'a');
    notify('error', 'b');
    dismiss(useJobs.getState().notices[0]!.id);
    expect(useJobs.getState().notices.map((n) => n.text)).toEqual(['b']);
  });
});

describe('following a job over the bridge', () => {
  it('polls queryAsyncJobResult until the job ends and returns its result', async () => {
    let polls = 0;
    answer({ queryAsyncJobResult: () => (++polls < 3 ? { jobstatus: JOB_IN_PROGRESS, jobprocstatus: 0 } : { jobstatus: JOB_SUCCEEDED, jobresult: { virtualmachine: { state: 'Running' } } }) });
    const result = waitForJob('j1', 400);
    await vi.advanceTimersByTimeAsync(800);
    await expect(result).resolves.toEqual({ virtualmachine: { state: 'Running' } });
    expect(invoke).toHaveBeenCalledTimes(3);
    expect(invoke).toHaveBeenCalledWith('queryAsyncJobResult', { jobid: 'j1' });
  });

  it('reads the job again when the jobs channel reports its end, not every interval', async () => {
    let done = false;
    answer({ queryAsyncJobResult: () => (done ? { jobstatus: JOB_SUCCEEDED, jobresult: { virtualmachine: { state: 'Stopped' } } } : { jobstatus: JOB_IN_PROGRESS, jobprocstatus: 0 }) });
    const result = waitForJob('j2');
    await vi.advanceTimersByTimeAsync(3000);
    // Progress of this job and the end of another one wake nothing.
    push('jobs', { changed: [update('j2', JOB_IN_PROGRESS, 50)], removed: [] });
    push('jobs', { changed: [update('other', JOB_SUCCEEDED, 100)], removed: [] });
    await vi.advanceTimersByTimeAsync(100);
    expect(invoke).toHaveBeenCalledTimes(1);
    done = true;
    push('jobs', { changed: [update('j2', JOB_SUCCEEDED, 100)], removed: [] });
    await expect(result).resolves.toEqual({ virtualmachine: { state: 'Stopped' } });
    expect(invoke).toHaveBeenCalledTimes(2);
    expect(listenerCount('jobs')).toBe(0);
  });

  it('throws the job\'s error code and text when it fails (530 when it names none)', async () => {
    answer({ queryAsyncJobResult: (p) => ({ jobstatus: JOB_FAILED, jobresult: p['jobid'] === 'coded' ? { errorcode: 533, errortext: 'no host can take the VM' } : {} }) });
    const coded = await waitForJob('coded').catch((e: unknown) => e);
    expect(coded).toBeInstanceOf(JobFailedError);
    expect(coded).toMatchObject({ errorcode: 533, errortext: 'no host can take the VM', jobid: 'coded' });
    expect(await waitForJob('bare').catch((e: unknown) => e)).toMatchObject({ errorcode: 530, errortext: 'the job failed' });
  });

  it('returns a synchronous answer as it is, and throws an API error with its code', async () => {
    answer({ updateVirtualMachine: () => ({ virtualmachine: { id: 'x' } }), startVirtualMachine: () => ({ errorcode: 431, errortext: 'only a Stopped VM can be started' }) });
    await expect(invokeAndWait('updateVirtualMachine', { id: 'x' })).resolves.toEqual({ virtualmachine: { id: 'x' } });
    await expect(invokeAndWait('startVirtualMachine', { id: 'x' })).rejects.toMatchObject({ errorcode: 431, message: 'only a Stopped VM can be started' });
  });
});

describe('the jobs from before the page opened', () => {
  it('reads listAsyncJobs once, and a job the channel already reported keeps its pushed state', async () => {
    vi.useRealTimers();
    answer({
      listAsyncJobs: () => ({
        count: 2,
        asyncjobs: [
          { jobid: 'old', cmd: 'stopVirtualMachine', jobstatus: JOB_FAILED, jobprocstatus: 100, jobinstancetype: 'VirtualMachine', jobinstanceid: 'vm-old', created: '2025-01-01T00:00:00+0000', completed: '2025-01-01T00:00:05+0000', jobresult: { errorcode: 530, errortext: 'the host did not answer' } },
          { jobid: 'pushed', cmd: 'deployVirtualMachine', jobstatus: JOB_IN_PROGRESS, jobprocstatus: 10, created: '2025-01-01T00:00:01+0000' },
        ],
      }),
    });
    useJobs.getState().apply(update('pushed', JOB_SUCCEEDED, 100));
    await Promise.all([useJobs.getState().load(), useJobs.getState().load()]);
    expect(invoke.mock.calls.filter(([command]) => command === 'listAsyncJobs')).toHaveLength(1);
    expect(jobs().get('old')).toMatchObject({ cmd: 'stopVirtualMachine', status: JOB_FAILED, progress: 100, message: 'the host did not answer', instanceId: 'vm-old', updated: Date.parse('2025-01-01T00:00:05Z') });
    expect(jobs().get('pushed')).toMatchObject({ status: JOB_SUCCEEDED, progress: 100 });
    await useJobs.getState().load();
    expect(invoke.mock.calls.filter(([command]) => command === 'listAsyncJobs')).toHaveLength(1);
  });
});
