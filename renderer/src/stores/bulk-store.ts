/**
 * Bulk actions as parent jobs kept in the renderer: one API call per VM, at most
 * BULK_CONCURRENCY at once, each followed to the end of its job, with a per-VM result that
 * keeps failures visible. (The engine has no parent-job command yet; when it does, this store
 * becomes a view of it.)
 */
import { create } from 'zustand';
import type { Vm } from '../api/model';
import { errorCode, errorText } from '../api/model';
import { waitForJob } from '../api/jobs';
import { kiln } from '../transport';
import { useJobs } from './jobs-store';
import type { VmAction } from '../actions/vm-actions';

export const BULK_CONCURRENCY = 3;

export type BulkItemStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface BulkItem {
  vmId: string;
  name: string;
  status: BulkItemStatus;
  errorcode?: number;
  errortext?: string;
}

export interface BulkRun {
  id: number;
  label: string;
  command: string;
  items: BulkItem[];
  started: number;
  finished?: number;
}

interface BulkStore {
  runs: BulkRun[];
  start(action: VmAction, vms: Vm[], onItemDone?: () => void): Promise<BulkRun>;
  dismiss(id: number): void;
}

let nextRun = 1;

export const useBulk = create<BulkStore>((set, get) => ({
  runs: [],
  async start(action, vms, onItemDone) {
    const run: BulkRun = {
      id: nextRun++, label: action.label, command: action.command, started: Date.now(),
      items: vms.map((vm) => ({ vmId: vm.id, name: vm.displayname || vm.name, status: 'queued' })),
    };
    set({ runs: [run, ...get().runs] });
    const update = (vmId: string, patch: Partial<BulkItem>) =>
      set({
        runs: get().runs.map((r) => (r.id === run.id ? { ...r, items: r.items.map((item) => (item.vmId === vmId ? { ...item, ...patch } : item)) } : r)),
      });
    const queue = [...vms];
    const worker = async () => {
      for (let vm = queue.shift(); vm; vm = queue.shift()) {
        update(vm.id, { status: 'running' });
        try {
          const response = await kiln.invoke(action.command, action.params(vm));
          if (typeof response['jobid'] === 'string') {
            // The run's result list reports this job; no separate notification.
            useJobs.getState().quiet.add(response['jobid']);
            await waitForJob(response['jobid']);
          }
          update(vm.id, { status: 'succeeded' });
        } catch (error) {
          update(vm.id, { status: 'failed', errorcode: errorCode(error), errortext: errorText(error) });
        }
        onItemDone?.();
      }
    };
    await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, vms.length) }, worker));
    set({ runs: get().runs.map((r) => (r.id === run.id ? { ...r, finished: Date.now() } : r)) });
    return get().runs.find((r) => r.id === run.id)!;
  },
  dismiss: (id) => set({ runs: get().runs.filter((r) => r.id !== id) }),
}));

export function progressOf(run: BulkRun): { done: number; succeeded: number; failed: number; total: number } {
  const succeeded = run.items.filter((i) => i.status === 'succeeded').length;
  const failed = run.items.filter((i) => i.status === 'failed').length;
  return { done: succeeded + failed, succeeded, failed, total: run.items.length };
}
