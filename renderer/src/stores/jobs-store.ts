/**
 * Jobs as the 'jobs' subscription reports them: the ones running (with progress), the recent
 * finished ones, and the notifications shown when one finishes or fails. The jobs that ran before
 * the page opened come from one listAsyncJobs read (load(), once per page); after it every change
 * arrives pushed, so a burst of jobs (a bulk stop) costs no request.
 */
import { create } from 'zustand';
import { errorText, listOf, type JobUpdate } from '../api/model';
import { JOB_FAILED, JOB_IN_PROGRESS, JOB_SUCCEEDED } from '../api/jobs';
import { kiln } from '../transport';

/** The notice for a finished job, or undefined while it runs. */
export function finishedNotice(update: JobUpdate, label: string): { kind: Notice['kind']; text: string } | undefined {
  if (update.status === JOB_SUCCEEDED) return { kind: 'success', text: `${label} finished` };
  if (update.status === JOB_FAILED) return { kind: 'error', text: `${label} failed${update.message ? `: ${update.message}` : ''}` };
  return undefined;
}

export interface Notice {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

/** A listAsyncJobs record as the 'jobs' channel would have pushed it, dated when it last changed. */
export function jobFromRecord(record: Record<string, unknown>): JobUpdate & { updated: number } {
  const result = record['jobresult'] as { errortext?: unknown } | undefined;
  const when = String(record['completed'] ?? record['created'] ?? '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return {
    jobid: String(record['jobid']),
    cmd: String(record['cmd'] ?? ''),
    status: Number(record['jobstatus'] ?? JOB_IN_PROGRESS),
    progress: Number(record['jobprocstatus'] ?? 0),
    message: typeof result?.errortext === 'string' ? result.errortext : undefined,
    instanceType: typeof record['jobinstancetype'] === 'string' ? record['jobinstancetype'] : undefined,
    instanceId: typeof record['jobinstanceid'] === 'string' ? record['jobinstanceid'] : undefined,
    updated: Date.parse(when) || 0,
  };
}

interface JobsStore {
  jobs: Map<string, JobUpdate & { updated: number }>;
  notices: Notice[];
  /** The first read's failure, shown by the jobs list. */
  loadError?: string;
  apply(update: JobUpdate): void;
  /** Reads the recent jobs once per page (later calls do nothing); a job the channel already reported keeps its pushed state. */
  load(): Promise<void>;
  /** Jobs whose end is reported elsewhere (a bulk run's own result list): no notification for them. */
  quiet: Set<string>;
  notify(kind: Notice['kind'], text: string): void;
  dismiss(id: number): void;
}

let nextNotice = 1;
const KEEP_FINISHED = 30;
let loading: Promise<void> | undefined;

/** JOBS with the finished ones beyond the newest KEEP_FINISHED dropped. */
function pruned(jobs: Map<string, JobUpdate & { updated: number }>) {
  const finished = [...jobs.values()].filter((j) => j.status !== JOB_IN_PROGRESS).sort((a, b) => b.updated - a.updated);
  for (const old of finished.slice(KEEP_FINISHED)) jobs.delete(old.jobid);
  return jobs;
}

export const useJobs = create<JobsStore>((set, get) => ({
  jobs: new Map(),
  notices: [],
  quiet: new Set(),
  apply(update) {
    const jobs = new Map(get().jobs);
    const previous = jobs.get(update.jobid);
    jobs.set(update.jobid, { ...update, message: update.message ?? previous?.message, updated: Date.now() });
    set({ jobs: pruned(jobs) });
  },
  load() {
    loading ??= kiln.invoke('listAsyncJobs', { page: 1, pagesize: KEEP_FINISHED * 2 }).then(
      (response) => {
                const jobs = new Map(get().jobs);
        for (const job of listOf<Record<string, unknown>>(response, 'asyncjobs').map(jobFromRecord)) if (!jobs.has(job.jobid)) jobs.set(job.jobid, job);
        set({ jobs: pruned(jobs), loadError: undefined });
      },
      (error: unknown) => {
        // The next open of the page tries again.
        loading = undefined;
        set({ loadError: errorText(error) });
      },
    );
    return loading;
  },
  notify(kind, text) {
    const notice = { id: nextNotice++, kind, text };
    set({ notices: [...get().notices, notice].slice(-3) });
    setTimeout(() => get().dismiss(notice.id), kind === 'error' ? 15_000 : 6_000);
  },
  dismiss: (id) => set({ notices: get().notices.filter((n) => n.id !== id) }),
}));

/** "Stop VM demo-web" from "stopVirtualMachine" and the name of the object (job-names-store.ts finds it). */
export function describeCommand(cmd: string, name?: string): string {
  const phrase = PHRASES[cmd] ?? words(cmd);
  return name ? `${phrase} ${name}` : phrase;
}

/** Commands whose camel-case words would misname the object that follows them ("Update VM affinity group web-1" is no group). */
const PHRASES: Record<string, string> = {
  updateVMAffinityGroup: 'Update affinity groups of VM',
  createTags: 'Add tags to',
  deleteTags: 'Remove tags from',
};

function words(cmd: string): string {
  const parts = cmd
    .replace(/VirtualMachine$/, 'VM')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(' ')
    .map((w, i) => ACRONYMS[w.toLowerCase()] ?? (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w.toLowerCase()));
  return parts.join(' ');
}

/** Words a command name spells in camel case that a sentence keeps in capitals ("Detach ISO", not "Detach Iso"). */
const ACRONYMS: Record<string, string> = { vm: 'VM', iso: 'ISO', ssh: 'SSH', gpu: 'GPU', ova: 'OVA', csv: 'CSV', ip: 'IP', nic: 'NIC', vmsnapshot: 'VM snapshot' };
