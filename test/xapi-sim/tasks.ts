/**
 * Async.* and task.* (§1.6, §6.5). An Async call gets a pending task at once. Its body runs
 * after the task delay; a long operation's body starts at once instead, and its ctx.work() is
 * the delay (progress 0 → 0.5 → done) and the point where task.cancel takes effect, so a
 * cancelled operation leaves nothing changed.
 */
import type { Ctx, Method } from './api.js';
import type { Sim } from './sim.js';
import { XapiFailure, XDate, XFloat, taskResultOf } from './wire.js';

function finish(sim: Sim, task: string, patch: Record<string, unknown>): void {
  if (!sim.store.has('task', task)) return; // destroyed meanwhile
  sim.store.update('task', task, { finished: new XDate(new Date()), allowed_operations: [], ...patch });
}

export function createTask(sim: Sim, label: string, description = ''): string {
  return sim.store.create('task', {
    name_label: label, name_description: description, status: 'pending', progress: new XFloat(0), created: new XDate(new Date()),
    resident_on: sim.master, allowed_operations: ['cancel'], type: '',
  }, { cancel: false });
}

function cancelled(sim: Sim, task: string): boolean {
  return sim.store.find(task)?.hidden['cancel'] === true;
}

export function registerTasks(sim: Sim): void {
  const { api, store } = sim;

  sim.startAsync = (m: Method, ctx: Ctx, args: unknown[]): string => {
    const task = createTask(sim, `Async.${m.name}`);
    const work = async (): Promise<void> => {
      const half = sim.options.taskDelayMs / 2;
      if (cancelled(sim, task)) throw new XapiFailure('TASK_CANCELLED', [task]);
      await sim.sleep(half);
      if (cancelled(sim, task)) throw new XapiFailure('TASK_CANCELLED', [task]);
      if (store.has('task', task)) store.update('task', task, { progress: new XFloat(0.5) });
      await sim.sleep(half);
      if (cancelled(sim, task)) throw new XapiFailure('TASK_CANCELLED', [task]);
    };
    // A long operation (one that holds a VM operation) starts at once and spends the delay in
    // ctx.work(); any other call runs whole after the delay.
    sim.later(m.vmOp ? 0 : sim.options.taskDelayMs, () => {
      const run = async (): Promise<void> => {
        if (cancelled(sim, task)) throw new XapiFailure('TASK_CANCELLED', [task]);
        const value = await m.run({ ...ctx, task, work }, args);
        finish(sim, task, { status: 'success', progress: new XFloat(1), result: taskResultOf(value) });
      };
      run().catch((e: unknown) => {
        const f = e instanceof XapiFailure ? e : new XapiFailure('INTERNAL_ERROR', [e instanceof Error ? e.message : String(e)]);
        finish(sim, task, { status: f.code === 'TASK_CANCELLED' ? 'cancelled' : 'failure', error_info: f.description });
      });
    });
    return task;
  };

  api.def('task.create', 'label:string description:string', (_c, [label, description]) => createTask(sim, label as string, description as string));
  api.def('task.cancel', 'task:ref', (_c, [task]) => {
    const row = store.row('task', task);
    if (row.rec['status'] !== 'pending' || !(row.rec['allowed_operations'] as string[]).includes('cancel')) {
      throw new XapiFailure('OPERATION_NOT_ALLOWED', [`task ${row.rec['status'] as string} cannot be cancelled`]);
    }
    row.hidden['cancel'] = true;
    store.update('task', row.ref, { status: 'cancelling', allowed_operations: [] });
    return '';
  });
  api.def('task.destroy', 'self:ref', (_c, [task]) => {
    store.destroy('task', store.row('task', task).ref);
    return '';
  });
}
