/**
 * vSphere Tasks: waiting for a Task's info.state through the PropertyCollector (never by
 * polling the task), reporting info.progress, and cancelling through CancelTask when the
 * caller's AbortSignal fires.
 */
import type { VimClient } from './client.js';
import { faultFromLocalized } from './faults.js';
import { createCollector, createFilter, retrieveProperties, waitForUpdatesEx } from './property-collector.js';
import { asNumber, asObject, asString, type MoRef, type VimValue } from './values.js';

export type TaskState = 'queued' | 'running' | 'success' | 'error';

export interface TaskInfo {
  state: TaskState;
  progress?: number;
  result?: VimValue;
  error?: VimValue;
  cancelled?: boolean;
  name?: string;
}

export interface WaitForTaskOptions {
  onProgress?: (percent: number, info: TaskInfo) => void;
  /** Aborting cancels the task on the server (CancelTask) and waits for it to end. */
  signal?: AbortSignal;
}

function taskInfo(value: VimValue | undefined): TaskInfo {
  const info = asObject(value);
  return {
    state: (asString(info['state']) ?? 'queued') as TaskState,
    progress: asNumber(info['progress']),
    result: info['result'],
    error: info['error'],
    cancelled: info['cancelled'] === true,
    name: asString(info['name']),
  };
}

const terminal = (s: TaskState): boolean => s === 'success' || s === 'error';

/** Waits for `task` to end: its result on success; its fault (a VimFault, RequestCanceled when cancelled) on error. */
export async function waitForTask(client: VimClient, task: MoRef, opts: WaitForTaskOptions = {}): Promise<VimValue | undefined> {
  const method = (info: TaskInfo) => info.name ?? task.toString();
  const done = (info: TaskInfo) => {
    if (info.state === 'error') throw faultFromLocalized(info.error, method(info));
    return info.result;
  };
  // Many tasks (and every vcsim task) are over by the time their method returns: one read.
  const [first] = await retrieveProperties(client, { objects: [task], propSet: [{ type: 'Task', pathSet: ['info'] }] });
  let info = taskInfo(first?.props['info']);
  if (info.progress !== undefined) opts.onProgress?.(info.progress, info);
  if (terminal(info.state)) return done(info);

  let cancelling: Promise<void> | undefined;
  const cancel = () => {
    // Whatever CancelTask answers (InvalidState: finished meanwhile; NotSupported; a lost
    // connection), the wait goes on and reports how the task ended.
    cancelling ??= client.call('CancelTask', task).then(() => undefined, () => undefined);
  };
  if (opts.signal?.aborted) cancel();
  opts.signal?.addEventListener('abort', cancel, { once: true });
  const collector = await createCollector(client);
  try {
    await createFilter(client, collector, { objects: [task], propSet: [{ type: 'Task', pathSet: ['info.state', 'info.progress', 'info.result', 'info.error', 'info.cancelled', 'info.name'] }] });
    let version = '';
    for (;;) {
      const set = await waitForUpdatesEx(client, collector, version, 10);
      if (!set) continue;
      version = set.version;
      const fields: Record<string, VimValue | undefined> = {};
      for (const u of set.updates) for (const c of u.changes) fields[c.name.replace(/^info\./, '')] = c.op === 'remove' ? undefined : c.val;
      const next = taskInfo({ ...asObject(toInfo(info)), ...stripUndefined(fields) });
      if (next.progress !== undefined && next.progress !== info.progress) opts.onProgress?.(next.progress, next);
      info = next;
      if (terminal(info.state)) {
        await cancelling;
        return done(info);
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
    await client.call('DestroyPropertyCollector', collector).catch(() => undefined);
  }
}

function toInfo(info: TaskInfo): Record<string, VimValue> {
  const out: Record<string, VimValue> = { state: info.state };
  if (info.progress !== undefined) out['progress'] = info.progress;
  if (info.result !== undefined) out['result'] = info.result;
  if (info.error !== undefined) out['error'] = info.error;
  if (info.cancelled !== undefined) out['cancelled'] = info.cancelled;
  if (info.name !== undefined) out['name'] = info.name;
  return out;
}

function stripUndefined(o: Record<string, VimValue | undefined>): Record<string, VimValue> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, VimValue>;
}
