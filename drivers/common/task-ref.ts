/**
 * The task ref an operation's OperationResult names, for drivers whose operations run as the
 * hypervisor's own tasks (vSphere's, XenServer's): the engine stores it for reattachTask. One
 * operation may start several tasks (a relocate, then a reconfigure); the result names the first
 * one reported, and every one still reaches the caller's own onTask as it is reported.
 */
import type { OperationOptions, OperationResult, Ref } from '../types.js';

/** OPTIONS to pass on (signal, onProgress, and an onTask that also keeps the first ref), and that first ref once reported. */
export function keepingFirstTask(options: OperationOptions): { options: OperationOptions; first(): Ref | undefined } {
  let taskRef: Ref | undefined;
  return {
    options: {
      signal: options.signal, onProgress: options.onProgress,
      onTask: (t) => {
        taskRef ??= t;
        options.onTask?.(t);
      },
    },
    first: () => taskRef,
  };
}

/** Runs an operation with OPTIONS passed on, and resolves to the OperationResult naming the first task it reported. */
export async function withTaskRef(options: OperationOptions, fn: (o: OperationOptions) => Promise<unknown>): Promise<OperationResult> {
  const task = keepingFirstTask(options);
  await fn(task.options);
  const taskRef = task.first();
  return taskRef ? { taskRef } : undefined;
}
